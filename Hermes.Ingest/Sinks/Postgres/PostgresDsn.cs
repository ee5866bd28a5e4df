using System.Globalization;
using Npgsql;

namespace Hermes.Ingest.Sinks.Postgres;

/// <summary>
/// Turns <c>DB_DSN</c> into an Npgsql connection string. Accepts the seed's URL form
/// (<c>postgres://user:pass@host:port/db?sslmode=disable</c>, also <c>postgresql://</c>) and Npgsql's keyword form
/// (<c>Host=…;Username=…</c>).
/// </summary>
public static class PostgresDsn
{
    /// <returns>Null when valid (with <paramref name="connectionString"/> set), else the rule the value breaks.</returns>
    public static string? TryParse(string dsn, out string connectionString)
    {
        connectionString = "";
        var text = dsn.Trim();
        if (text.Length == 0)
        {
            return "expected postgres://user:pass@host:port/db or Host=…;Username=…;Database=…";
        }

        var builder = new NpgsqlConnectionStringBuilder();
        if (text.Contains("://", StringComparison.Ordinal))
        {
            if (FromUrl(text, builder) is { } urlProblem)
            {
                return urlProblem;
            }
        }
        else
        {
            try
            {
                builder.ConnectionString = text;
            }
            catch (ArgumentException ex)
            {
                return "not a postgres:// URL nor a valid keyword connection string (" + ex.Message + ")";
            }
        }

        if (string.IsNullOrEmpty(builder.Host))
        {
            return "no host given";
        }

        connectionString = builder.ConnectionString;
        return null;
    }

    /// <summary>The DSN with its password replaced, for error messages and logs.</summary>
    public static string Redact(string dsn)
    {
        if (Uri.TryCreate(dsn.Trim(), UriKind.Absolute, out var uri) && uri.UserInfo.Contains(':', StringComparison.Ordinal))
        {
            return dsn.Replace(uri.UserInfo, uri.UserInfo[..uri.UserInfo.IndexOf(':', StringComparison.Ordinal)] + ":***", StringComparison.Ordinal);
        }

        try
        {
            var builder = new NpgsqlConnectionStringBuilder(dsn);
            if (builder.Password is not null)
            {
                builder.Password = "***";
                return builder.ConnectionString;
            }
        }
        catch (ArgumentException)
        {
        }

        return dsn;
    }

    private static string? FromUrl(string text, NpgsqlConnectionStringBuilder builder)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri))
        {
            return "not a valid URL";
        }

        if (uri.Scheme is not ("postgres" or "postgresql"))
        {
            return $"URL scheme must be postgres:// or postgresql://, not {uri.Scheme}://";
        }

        if (string.IsNullOrEmpty(uri.Host))
        {
            return "no host given";
        }

        builder.Host = uri.Host.Trim('[', ']');
        if (!uri.IsDefaultPort && uri.Port > 0)
        {
            builder.Port = uri.Port;
        }

        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            builder.Username = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            if (colon >= 0)
            {
                builder.Password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            }
        }

        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length > 0)
        {
            builder.Database = database;
        }

        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(equals < 0 ? pair : pair[..equals]);
            var value = equals < 0 ? "" : Uri.UnescapeDataString(pair[(equals + 1)..]);
            if (ApplyQueryParameter(builder, key, value) is { } problem)
            {
                return problem;
            }
        }

        return null;
    }

    private static string? ApplyQueryParameter(NpgsqlConnectionStringBuilder builder, string key, string value)
    {
        switch (key)
        {
            case "sslmode":
                // libpq's modes; Npgsql spells them the same apart from case.
                if (!Enum.TryParse<SslMode>(value.Replace("-", "", StringComparison.Ordinal), ignoreCase: true, out var mode))
                {
                    return $"sslmode '{value}' is not one of disable, allow, prefer, require, verify-ca, verify-full";
                }

                builder.SslMode = mode;
                return null;
            case "connect_timeout":
                if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
                {
                    return $"connect_timeout '{value}' is not a number of seconds";
                }

                builder.Timeout = seconds;
                return null;
            case "application_name":
                builder.ApplicationName = value;
                return null;
            default:
                try
                {
                    // Anything else Npgsql knows by the same name (e.g. Pooling, Timeout, Search Path).
                    builder[key] = value;
                    return null;
                }
                catch (ArgumentException)
                {
                    return $"unknown URL parameter '{key}'";
                }
        }
    }
}
