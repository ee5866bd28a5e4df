using Hermes.SampleProducer;
using Microsoft.Extensions.Options;

// The sample producer: riders of a ride-hailing app starting trips, reporting where their car is, playing songs and
// clicking ads, sent to Hermes through Hermes.Client. The AppHost runs it locally so that the dashboards show a live
// system on first run; it is also the client's reference example.
try
{
    var builder = Host.CreateApplicationBuilder(args);

    builder.AddServiceDefaults();          // OpenTelemetry (the client's spans and metrics too), service discovery
    builder.AddHermesClient("ingest");     // Hermes.Client: https+http://ingest, settings from Hermes:Client

    builder.Services.AddOptions<RideTrafficOptions>()
        .BindConfiguration(RideTrafficOptions.SectionName)
        .ValidateDataAnnotations()
        .ValidateOnStart();
    builder.Services.AddHostedService<RideTraffic>();

    await builder.Build().RunAsync();
    return 0;
}
catch (OptionsValidationException ex)
{
    // A bad setting names itself, and the process exits 2 like every Hermes service.
    await Console.Error.WriteLineAsync(ex.Message);
    return 2;
}
