using System.Security.Cryptography;

namespace Hermes.AppHost;

/// <summary>
/// The machine's own PostgreSQL, for machines with no container runtime. Layout under the data root:
/// <c>password</c> (the superuser password, made once) and <c>data/</c> (the cluster, made once by initdb).
/// Delete the root to start from an empty database.
/// </summary>
internal sealed record LocalPostgres(string Root, string DataDirectory, string Password, bool RunAsPostgresUser)
{
    /// <summary>
    /// Run by the <c>postgres-init</c> resource. PostgreSQL refuses to run as root, so as root the root directory is
    /// handed to the <c>postgres</c> OS user and initdb runs through setpriv; as anyone else it runs as that user.
    /// </summary>
    public const string InitScript = """
        set -eu
        data="$HERMES_PG_ROOT/data"
        if [ -s "$data/PG_VERSION" ]; then
          echo "PostgreSQL cluster $data exists; nothing to initialise."
          exit 0
        fi
        as=""
        if [ "$(id -u)" = 0 ]; then
          chown -R postgres:postgres "$HERMES_PG_ROOT"
          as="setpriv --reuid=postgres --regid=postgres --init-groups"
        fi
        # --no-sync: initdb takes ~0.55 s instead of ~0.95 s here; a dev cluster lost to a power cut is simply made again.
        echo "Initialising PostgreSQL cluster in $data"
        $as "$HERMES_PG_BIN/initdb" -D "$data" -U postgres --pwfile="$HERMES_PG_ROOT/password" \
          --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-instructions --no-sync
        echo "CREATE DATABASE $HERMES_PG_DATABASE" | $as "$HERMES_PG_BIN/postgres" --single -D "$data" postgres >/dev/null
        echo "Created database $HERMES_PG_DATABASE"
        """;

    /// <summary>Creates the root and the password file on first use; later runs read the same password back.</summary>
    public static LocalPostgres Prepare(string root)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new DistributedApplicationException(
                "Local PostgreSQL binaries are supported on Linux and macOS; on Windows run Docker Desktop or set Hermes:Postgres:Source=external.");
        }

        Directory.CreateDirectory(root);
        var passwordFile = Path.Combine(root, "password");
        if (!File.Exists(passwordFile))
        {
            // Mode 600 from the start: the password never sits world-readable, not even between create and chmod.
            using var stream = new FileStream(passwordFile, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
            using var writer = new StreamWriter(stream);
            writer.Write(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24)));
        }

        var password = File.ReadAllText(passwordFile).Trim();
        return new(root, Path.Combine(root, "data"), password, Environment.IsPrivilegedProcess);
    }

    /// <summary>
    /// The configured directory, else the newest <c>/usr/lib/postgresql/N/bin</c> (Debian, Ubuntu), else the one on
    /// PATH holding <c>postgres</c> and <c>initdb</c> (Fedora, Homebrew). Null when none has both.
    /// </summary>
    public static string? FindBinDirectory(string? configured)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return HasServer(configured) ? Path.GetFullPath(configured) : null;
        }

        var debian = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => (Version: int.TryParse(Path.GetFileName(d), out var v) ? v : 0, Bin: Path.Combine(d, "bin")))
                .Where(d => HasServer(d.Bin))
                .OrderByDescending(d => d.Version)
                .Select(d => d.Bin)
                .FirstOrDefault()
            : null;

        return debian ?? (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .FirstOrDefault(HasServer);
    }

    private static bool HasServer(string directory) =>
        File.Exists(Path.Combine(directory, "postgres")) && File.Exists(Path.Combine(directory, "initdb"));
}
