using Microsoft.Extensions.Hosting;

namespace Hermes.Client.Hosting;

/// <summary>
/// Flushes the client when the host stops, after every other hosted service has stopped (<c>StoppedAsync</c>), so
/// the events a worker tracks on its way out are delivered too, whatever order the services were registered in.
/// The host's shutdown token bounds it as well as <c>Hermes:Client:ShutdownTimeout</c>.
/// </summary>
internal sealed class HermesClientLifetime(HermesClient client) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => client.ShutdownAsync(cancellationToken);
}
