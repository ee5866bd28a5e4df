namespace Hermes.Ingest.Pipeline;

/// <summary>
/// Open while Hermes accepts events. Closes when shutdown begins (SIGTERM/SIGINT): intake answers 503 and
/// <c>/health</c> reports not-ready, so load balancers move traffic away while the workers drain.
/// </summary>
public sealed class IntakeGate
{
    private volatile bool _closed;

    public IntakeGate(IHostApplicationLifetime lifetime) => lifetime.ApplicationStopping.Register(Close);

    public bool IsOpen => !_closed;

    public void Close() => _closed = true;
}
