using System.Globalization;
using System.Net;

namespace Hermes.Ingest.Configuration;

/// <summary>A setting with a bad value; the message names the setting and the value so the fix is obvious.</summary>
public sealed class InvalidSettingException(IReadOnlyList<string> problems)
    : Exception("Hermes cannot start: invalid configuration." + Environment.NewLine + string.Join(Environment.NewLine, problems.Select(p => "  - " + p)))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}

/// <summary>
/// Reads <see cref="IngestOptions"/> from configuration: the compatibility layer for the seed's settings. Each setting
/// has the seed's environment name (<c>QUEUE_SIZE</c>) and a .NET key (<c>Hermes:Ingest:QueueSize</c>, i.e.
/// <c>Hermes__Ingest__QueueSize</c>); the seed's name wins when both are set. Values are parsed here, checked by
/// <see cref="IngestOptionsValidator"/> and <see cref="IngestOptionsRules"/>, and every bad value is reported, not
/// just the first.
/// </summary>
public static class IngestOptionsLoader
{
    private static readonly Setting<IngestOptions>[] Settings =
    [
        new("HTTP_ADDR", nameof(IngestOptions.HttpAddress), (o, v) => Address(v, out var a) ?? SettingReader.Set(() => o.HttpAddress = a)),
        new("QUEUE_SIZE", nameof(IngestOptions.QueueSize), (o, v) => SettingReader.Int(v, x => o.QueueSize = x)),
        new("WORKER_COUNT", nameof(IngestOptions.WorkerCount), (o, v) => SettingReader.Int(v, x => o.WorkerCount = x)),
        new("BATCH_SIZE", nameof(IngestOptions.BatchSize), (o, v) => SettingReader.Int(v, x => o.BatchSize = x)),
        new("FLUSH_INTERVAL", nameof(IngestOptions.FlushInterval), (o, v) => SettingReader.Duration(v, x => o.FlushInterval = x)),
        new("SHUTDOWN_TIMEOUT", nameof(IngestOptions.ShutdownTimeout), (o, v) => SettingReader.Duration(v, x => o.ShutdownTimeout = x)),
        new("DB_DSN", nameof(IngestOptions.DbDsn), (o, v) => SettingReader.Set(() => o.DbDsn = string.IsNullOrWhiteSpace(v) ? null : v)),
        new("MAX_OPEN_CONNS", nameof(IngestOptions.MaxOpenConns), (o, v) => SettingReader.Int(v, x => o.MaxOpenConns = x)),
        new("BACKPRESSURE_MODE", nameof(IngestOptions.BackpressureMode), (o, v) => Mode(v, x => o.BackpressureMode = x)),
        new("BLOCK_TIMEOUT", nameof(IngestOptions.BlockTimeout), (o, v) => SettingReader.Duration(v, x => o.BlockTimeout = x)),
        new("EVENT_TYPES", nameof(IngestOptions.EventTypes), (o, v) => SettingReader.List(v, x => o.EventTypes = x)),
        new("SEGMENT_EVENT_MAP", nameof(IngestOptions.SegmentEventMap), (o, v) => SegmentMap(v, x => o.SegmentEventMap = x)),
        new("MAX_FUTURE_SKEW", nameof(IngestOptions.MaxFutureSkew), (o, v) => SettingReader.Duration(v, x => o.MaxFutureSkew = x)),
        new("EVENT_RETENTION", nameof(IngestOptions.EventRetention), (o, v) => SettingReader.Duration(v, x => o.EventRetention = x, RetentionAttribute.Expected)),
        new("MAX_ID_LENGTH", nameof(IngestOptions.MaxIdLength), (o, v) => SettingReader.Int(v, x => o.MaxIdLength = x)),
        new("MAX_PAYLOAD_BYTES", nameof(IngestOptions.MaxPayloadBytes), (o, v) => SettingReader.Int(v, x => o.MaxPayloadBytes = x)),
        new("MAX_EVENT_BYTES", nameof(IngestOptions.MaxEventBytes), (o, v) => SettingReader.Int(v, x => o.MaxEventBytes = x)),
        new("MAX_BATCH_BYTES", nameof(IngestOptions.MaxBatchBytes), (o, v) => SettingReader.Int(v, x => o.MaxBatchBytes = x)),
        new("MAX_INFLATED_BYTES", nameof(IngestOptions.MaxInflatedBytes), (o, v) => SettingReader.Int(v, x => o.MaxInflatedBytes = x)),
        new("MAX_BATCH_EVENTS", nameof(IngestOptions.MaxBatchEvents), (o, v) => SettingReader.Int(v, x => o.MaxBatchEvents = x)),
        new("MAX_JSON_DEPTH", nameof(IngestOptions.MaxJsonDepth), (o, v) => SettingReader.Int(v, x => o.MaxJsonDepth = x)),
        new("AGGREGATE_RETENTION", nameof(IngestOptions.AggregateRetention), (o, v) => SettingReader.Duration(v, x => o.AggregateRetention = x)),
        new("MAX_AGGREGATE_BUCKETS", nameof(IngestOptions.MaxAggregateBuckets), (o, v) => SettingReader.Int(v, x => o.MaxAggregateBuckets = x)),
        new("DEBUG_ENDPOINTS", nameof(IngestOptions.DebugEndpoints), (o, v) => SettingReader.Bool(v, x => o.DebugEndpoints = x)),
        new("REQUEST_HEADERS_TIMEOUT", nameof(IngestOptions.RequestHeadersTimeout), (o, v) => SettingReader.Duration(v, x => o.RequestHeadersTimeout = x)),
        new("MIN_REQUEST_BODY_RATE", nameof(IngestOptions.MinRequestBodyBytesPerSecond), (o, v) => SettingReader.Int(v, x => o.MinRequestBodyBytesPerSecond = x)),
        new("MIN_REQUEST_BODY_GRACE", nameof(IngestOptions.MinRequestBodyGrace), (o, v) => SettingReader.Duration(v, x => o.MinRequestBodyGrace = x)),
        new("API_KEYS", nameof(IngestOptions.ApiKeys), (o, v) => SettingReader.List(v, x => o.ApiKeys = x), Secret: true),
        new("READ_API_KEYS", nameof(IngestOptions.ReadApiKeys), (o, v) => SettingReader.List(v, x => o.ReadApiKeys = x), Secret: true),
        new("ADMIN_API_KEYS", nameof(IngestOptions.AdminApiKeys), (o, v) => SettingReader.List(v, x => o.AdminApiKeys = x), Secret: true),
        new("RATE_LIMIT_PER_KEY", nameof(IngestOptions.RateLimitPerKey), (o, v) => Rate(v, x => o.RateLimitPerKey = x)),
        new("RATE_LIMIT_BURST", nameof(IngestOptions.RateLimitBurst), (o, v) => SettingReader.Int(v, x => o.RateLimitBurst = x)),
    ];

    /// <summary>The seed names this reader knows (README's settings tables list each one).</summary>
    public static IEnumerable<string> SeedNames => Settings.Select(s => s.EnvName);

    /// <summary>Reads and validates; throws <see cref="InvalidSettingException"/> naming every bad setting.</summary>
    public static IngestOptions Load(IConfiguration configuration)
    {
        var options = new IngestOptions();
        var problems = new List<string>();
        var given = SettingReader.Read(configuration, IngestOptions.SectionName, Settings, options, problems);

        // A small QUEUE_SIZE lowers the default batch cap with it rather than failing a setting nobody chose.
        if (!given.IsGiven(nameof(IngestOptions.MaxBatchEvents)))
        {
            options.MaxBatchEvents = Math.Min(options.MaxBatchEvents, Math.Max(1, options.QueueSize));
        }

        if (!given.IsGiven(nameof(IngestOptions.RateLimitBurst)))
        {
            options.RateLimitBurst = (int)Math.Clamp(Math.Ceiling(options.RateLimitPerKey), 1, 100_000_000);
        }

        given.Validate(options, problems, new IngestOptionsValidator(), new IngestOptionsRules());
        if (problems.Count > 0)
        {
            throw new InvalidSettingException(problems);
        }

        return options;
    }

    private static string? Rate(string value, Action<double> set) =>
        double.TryParse(value.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) && !double.IsNaN(rate)
            ? SettingReader.Set(() => set(rate))
            : EventRateAttribute.Rule;

    private static string? Mode(string value, Action<BackpressureMode> set)
    {
        switch (value.Trim().ToLowerInvariant())
        {
            case "strict":
                set(BackpressureMode.Strict);
                return null;
            case "block":
                set(BackpressureMode.Block);
                return null;
            default:
                return "expected strict or block";
        }
    }

    /// <summary><c>Event Name=type,Other Name=type</c>: names are matched exactly (case and spaces included).</summary>
    private static string? SegmentMap(string value, Action<Dictionary<string, string>> set)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = entry.LastIndexOf('=');
            if (equals <= 0 || equals == entry.Length - 1)
            {
                return $"'{entry}' is not 'Event Name=type'; expected a comma-separated list such as Ride Started=trip_started,Ad Click=ad_clicked";
            }

            if (!map.TryAdd(entry[..equals].Trim(), entry[(equals + 1)..].Trim()))
            {
                return $"the event name '{entry[..equals].Trim()}' is mapped twice";
            }
        }

        set(map);
        return null;
    }

    /// <summary>Accepts the seed's <c>:8080</c> (every interface) and <c>host:port</c>; returns an ASP.NET URL.</summary>
    private static string? Address(string value, out string url)
    {
        url = "";
        var text = value.Trim();
        var colon = text.LastIndexOf(':');
        if (colon < 0
            || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            || port > 65535)
        {
            return "expected :port or host:port, for example :8080 or 127.0.0.1:8080";
        }

        var host = text[..colon];
        if (host.Length == 0 || host is "0.0.0.0" or "*" or "[::]")
        {
            host = "*";
        }
        else if (host.Contains(':') && !host.StartsWith('['))
        {
            return "an IPv6 host must be in brackets, for example [::1]:8080";
        }
        else if (!IPAddress.TryParse(host.Trim('[', ']'), out _) && Uri.CheckHostName(host) == UriHostNameType.Unknown)
        {
            return $"'{host}' is not a host name or IP address";
        }

        url = $"http://{host}:{port}";
        return null;
    }
}
