using System.Diagnostics;
using System.Net;
using Npgsql;

namespace Hermes.Tests.Infrastructure;

/// <summary>
/// A throwaway PostgreSQL 15 server: <c>initdb</c> into a temp directory, started on a free loopback port as the
/// <c>postgres</c> OS user (the server refuses to run as root), stoppable and restartable for fault tests, and
/// deleted on dispose. Durability settings are off because a test server needs speed, not crash safety.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    internal const string BinDirectory = "/usr/lib/postgresql/15/bin";
    private static int s_databases;

    private readonly string _directory;
    private Process? _server;

    private PostgresServer(string directory, int port)
    {
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    public bool IsRunning => _server is { HasExited: false };

    /// <summary>Keyword-form connection string for <paramref name="database"/> as the superuser (pooled: what Hermes is given).</summary>
    public string ConnectionString(string database = "postgres") =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Timeout=5";

    /// <param name="durable">
    /// Keep PostgreSQL's durability (synchronous_commit and fsync on) for tests that crash the server: with them off,
    /// an acknowledged commit can vanish in an immediate shutdown, which is the test setup's loss, not Hermes's.
    /// </param>
    public static async Task<PostgresServer> StartAsync(bool durable = false)
    {
        if (!File.Exists(Path.Combine(BinDirectory, "postgres")))
        {
            throw new InvalidOperationException($"PostgreSQL 15 is not installed ({BinDirectory}); run: apt-get install -y postgresql-15");
        }

        var directory = Path.Combine(Path.GetTempPath(), "hermes-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        await RunAsync("chown", "postgres:postgres", directory);
        var server = new PostgresServer(directory, Ports.Free()) { _durable = durable };
        await RunAsync("setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", Path.Combine(BinDirectory, "initdb"),
            "-D", server.DataDirectory, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync");
        await server.StartAsync(TimeSpan.FromSeconds(30));
        return server;
    }

    private bool _durable;

    private static string OnOff(bool on) => on ? "on" : "off";

    private string DataDirectory => Path.Combine(_directory, "data");

    /// <summary>Starts (or restarts) the server and waits until it accepts connections.</summary>
    public async Task StartAsync(TimeSpan timeout)
    {
        if (IsRunning)
        {
            return;
        }

        var info = new ProcessStartInfo("setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            "--reuid=postgres", "--regid=postgres", "--init-groups", Path.Combine(BinDirectory, "postgres"),
            "-D", DataDirectory, "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-k", _directory, "-c", "listen_addresses=127.0.0.1", "-c", $"fsync={OnOff(_durable)}", "-c", $"synchronous_commit={OnOff(_durable)}",
            "-c", $"full_page_writes={OnOff(_durable)}", "-c", "max_connections=200", "-c", "shared_buffers=64MB",
        })
        {
            info.ArgumentList.Add(arg);
        }

        _server = Process.Start(info)!;
        _server.OutputDataReceived += (_, _) => { };
        _server.ErrorDataReceived += (_, _) => { };
        _server.BeginOutputReadLine();
        _server.BeginErrorReadLine();

        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(ConnectionString() + ";Pooling=false");
                await connection.OpenAsync();
                return;
            }
            catch (NpgsqlException) when (DateTime.UtcNow < deadline && IsRunning)
            {
                await Task.Delay(100);
            }
        }
    }

    /// <summary>Stops the server at once (SIGINT: fast shutdown, open connections are cut), as an outage does.</summary>
    public async Task StopAsync()
    {
        if (_server is null)
        {
            return;
        }

        if (!_server.HasExited)
        {
            await RunAsync("kill", "-INT", _server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _server.WaitForExitAsync(cts.Token);
        }

        _server.Dispose();
        _server = null;
    }

    /// <summary>Kills the server the way a crash does (SIGQUIT: immediate shutdown, no checkpoint, recovery on restart).</summary>
    public async Task KillAsync()
    {
        if (_server is null)
        {
            return;
        }

        if (!_server.HasExited)
        {
            await RunAsync("kill", "-QUIT", _server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _server.WaitForExitAsync(cts.Token);
        }

        _server.Dispose();
        _server = null;
    }

    /// <summary>Creates an empty database and returns its connection string, so tests sharing a server stay apart.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = $"hermes_{Environment.ProcessId}_{Interlocked.Increment(ref s_databases)}";
        await using var connection = new NpgsqlConnection(ConnectionString() + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
        await command.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private static async Task RunAsync(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}: {await stderr}{await stdout}");
        }
    }
}
