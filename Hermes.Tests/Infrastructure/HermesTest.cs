namespace Hermes.Tests.Infrastructure;

/// <summary>A test class with its own Hermes on Kestrel over loopback, started before each test and stopped after.</summary>
public abstract class HermesTest(Dictionary<string, string?>? settings = null) : IAsyncLifetime
{
    protected HermesFactory Hermes { get; } = new(settings);

    protected HttpClient Client { get; private set; } = null!;

    public ValueTask InitializeAsync()
    {
        Client = Hermes.Start();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await Hermes.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
