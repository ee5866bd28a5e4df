using System.Collections.Concurrent;
using Hermes.Client;
using Hermes.Ingest.Diagnostics;
using Hermes.Ingest.Telemetry;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Infrastructure.Collections;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Hermes.Tests.Client;

/// <summary>
/// What reaches PostgreSQL, by id, when Hermes pushes back, dies, or the producer stops: every event the client
/// took is stored once, and the only ones missing are those it said it dropped.
/// </summary>
[NeedsPostgresServer]
[Collection(PostgresCollection.Name)]
public sealed class ClientStorageTests(SharedPostgres postgres) : IDisposable
{
    private const int SIGKILL = 9;
    private readonly TempDirectory _spill = new("spill");

    public void Dispose() => _spill.Dispose();

    [Fact]
    public async Task Backpressure_503s_are_waited_out_and_every_event_is_stored_once()
    {
        // Arrange: a 200-event queue drained 50 rows at a time by one worker, against four 200-event batches at once.
        var db = await postgres.Server.CreateDatabaseAsync();
        await using var hermes = new HermesFactory(new()
        {
            ["DB_DSN"] = db, ["SPILL_DIR"] = _spill.Path, ["QUEUE_SIZE"] = "200", ["MAX_BATCH_EVENTS"] = "200",
            ["WORKER_COUNT"] = "1", ["BATCH_SIZE"] = "50", ["FLUSH_INTERVAL"] = "10ms",
        });
        var http = hermes.Start();
        // Retry-After comes from the drain rate Hermes has measured; give it one to measure (otherwise it says 30 s).
        var warmUp = await http.PostAsync("/events/batch?ack=durable", Events.Ndjson(Enumerable.Range(0, 100).Select(i => Events.Json($"warm-{i}"))), TestContext.Current.CancellationToken);
        Assert.True(warmUp.IsSuccessStatusCode);
        await Task.Delay(1_100, TestContext.Current.CancellationToken);
        await using var harness = ClientHarness.Start(http.BaseAddress!, s => (s.MaxBatchEvents, s.MaxConcurrentRequests) = (200, 4));

        // Act
        var ids = Enumerable.Range(0, 3_000).Select(i => Assert.NotNull(harness.Client.Track("location_update", $"user-{i % 50}", new { i }))).ToList();
        await harness.FlushAsync(120);

        // Assert: Hermes refused with 503 (nothing queued) and the client resent until all was taken, once.
        Assert.True(hermes.Service<IngestMetrics>().Rejected(RejectReason.QueueFull) > 0, "the queue never filled: no backpressure was exercised");
        Assert.True(harness.Metrics.Retries("503") > 0);
        var stats = harness.Client.Statistics;
        Assert.Equal((3_000L, 3_000L, 0L, 0L), (stats.Tracked, stats.Sent, stats.Refused, stats.Lost));
        await AssertStoredExactlyAsync(db, ids, extraRows: 100);
    }

    [Fact]
    public async Task Ingest_killed_and_restarted_mid_stream_loses_nothing_and_stores_nothing_twice_with_durable_acks()
    {
        // Arrange: ingest as its own process on a fixed port, so it can be SIGKILLed and started again there.
        var db = await postgres.Server.CreateDatabaseAsync();
        var port = Ports.Free();
        var settings = new Dictionary<string, string> { ["DB_DSN"] = db, ["SPILL_DIR"] = _spill.Path, ["HTTP_ADDR"] = $"127.0.0.1:{port}" };
        await using var first = HermesProcess.Start(settings);
        await first.WaitUntilAliveAsync(TimeSpan.FromSeconds(30));
        await using var harness = ClientHarness.Start(new Uri($"http://127.0.0.1:{port}"), s =>
        {
            // Durable: a 200 means committed, so a SIGKILL can take nothing that was answered.
            s.DurableAck = true;
            s.MaxBatchEvents = 200;
            s.AttemptTimeout = TimeSpan.FromSeconds(5);
        });
        var ids = new ConcurrentQueue<Guid>();

        // Act: 4,000 events tracked over a few seconds; ingest is killed once 1,000 are stored and restarted 1 s later.
        var producer = Task.Run(async () =>
        {
            for (var i = 0; i < 4_000; i++)
            {
                ids.Enqueue(Assert.NotNull(harness.Client.Track("song_played", $"user-{i % 100}", new { i })));
                if (i % 20 == 19)
                {
                    await Task.Delay(20, TestContext.Current.CancellationToken);
                }
            }
        }, TestContext.Current.CancellationToken);
        await Events.Eventually(() => Task.FromResult(harness.Client.Statistics.Sent), sent => sent >= 1_000, TimeSpan.FromSeconds(60));
        first.Signal(SIGKILL);
        await first.WaitForExitAsync(TimeSpan.FromSeconds(10));
        await Task.Delay(1_000, TestContext.Current.CancellationToken);
        await using var second = HermesProcess.Start(settings);
        await second.WaitUntilAliveAsync(TimeSpan.FromSeconds(30));
        await producer;
        await harness.FlushAsync(120);

        // Assert: the client saw ingest go, kept every batch, and each event is a row exactly once.
        Assert.True(harness.Metrics.Retries("transport") > 0, "the client never noticed ingest was gone");
        var stats = harness.Client.Statistics;
        Assert.Equal((4_000L, 4_000L, 0L, 0L, 0L), (stats.Tracked, stats.Sent, stats.Refused, stats.Lost, stats.DroppedBufferFull));
        await AssertStoredExactlyAsync(db, ids, extraRows: 0);
    }

    [Fact]
    public async Task Dispose_waits_for_the_buffer_and_everything_is_stored()
    {
        var db = await postgres.Server.CreateDatabaseAsync();
        await using var hermes = new HermesFactory(new() { ["DB_DSN"] = db, ["SPILL_DIR"] = _spill.Path });
        var http = hermes.Start();
        // Neither the size nor the interval sends anything by itself: only disposal can.
        var harness = ClientHarness.Start(http.BaseAddress!, s => (s.MaxBatchEvents, s.FlushInterval) = (10_000, TimeSpan.FromHours(1)));
        var ids = Enumerable.Range(0, 2_500).Select(i => Assert.NotNull(harness.Client.Track("ad_clicked", $"user-{i % 10}", new { i }))).ToList();
        await Task.Delay(300, TestContext.Current.CancellationToken);
        Assert.Equal(0, harness.Client.Statistics.Sent);

        await harness.Client.DisposeAsync();

        Assert.Equal((2_500L, 0L), (harness.Client.Statistics.Sent, harness.Client.Statistics.Lost));
        Assert.Null(harness.Client.Track("ad_clicked", "user-late"));
        Assert.Equal(1, harness.Client.Statistics.DroppedAfterClose);
        await AssertStoredExactlyAsync(db, ids, extraRows: 0);
        await harness.DisposeAsync();
    }

    [Fact]
    public async Task Host_shutdown_delivers_what_a_worker_tracked_on_its_way_out_whatever_the_registration_order()
    {
        // Arrange: the Aspire-style registration, Hermes found by service discovery, and a worker registered
        // before the client, so it stops after the client's own StopAsync would have run.
        var db = await postgres.Server.CreateDatabaseAsync();
        await using var hermes = new HermesFactory(new() { ["DB_DSN"] = db, ["SPILL_DIR"] = _spill.Path });
        var http = hermes.Start();
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["services:ingest:http:0"] = http.BaseAddress!.ToString(),
            ["Hermes:Client:FlushInterval"] = "00:00:00.100",
        });
        var ids = new ConcurrentQueue<Guid>();
        builder.Services.AddSingleton(ids);
        builder.Services.AddHostedService<TrackingWorker>();
        builder.AddHermesClient("ingest");
        using var host = builder.Build();
        await host.StartAsync(TestContext.Current.CancellationToken);
        await Events.Eventually(() => Task.FromResult(ids.Count), count => count >= 500);

        // Act
        await host.StopAsync(TestContext.Current.CancellationToken);

        // Assert: the worker's last 100 events, tracked in its StopAsync, are stored with the rest.
        var client = host.Services.GetRequiredService<HermesClient>();
        Assert.Equal((ids.Count, 0L), (client.Statistics.Sent, client.Statistics.Lost));
        await AssertStoredExactlyAsync(db, ids, extraRows: 0);
    }

    [Fact]
    public async Task A_full_buffer_drops_the_newest_events_counts_them_and_keeps_the_oldest()
    {
        // Arrange: nothing listens on the port yet, so the first batch is held in flight and the buffer fills.
        var db = await postgres.Server.CreateDatabaseAsync();
        var port = Ports.Free();
        await using var harness = ClientHarness.Start(new Uri($"http://127.0.0.1:{port}"), s => (s.BufferCapacity, s.MaxBatchEvents) = (100, 100));
        var first = Enumerable.Range(0, 100).Select(i => Assert.NotNull(harness.Client.Track("trip_started", "user-1", new { i }))).ToList();
        await Events.Eventually(() => Task.FromResult(harness.Client.Statistics.InFlight), n => n == 100);

        // Act: 150 more: 100 fit in the buffer, the last 50 do not.
        var more = Enumerable.Range(100, 150).Select(i => harness.Client.Track("trip_started", "user-1", new { i })).ToList();

        // Assert: the newest 50 were refused at once and counted, and the health check says data is being lost.
        Assert.All(more.Take(100), id => Assert.NotNull(id));
        Assert.All(more.Skip(100), id => Assert.Null(id));
        Assert.Equal(50, harness.Client.Statistics.DroppedBufferFull);
        Assert.Equal(50, harness.Measure("hermes_client_events_dropped", "reason", "buffer_full"));
        var health = await harness.HealthAsync();
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Unhealthy, health.Entries["hermes-client"].Status);
        Assert.Contains("the buffer is full", health.Entries["hermes-client"].Description, StringComparison.Ordinal);

        // Hermes arrives: the 200 kept events are stored, in full, and nothing else.
        await using var hermes = HermesProcess.Start(new() { ["DB_DSN"] = db, ["SPILL_DIR"] = _spill.Path, ["HTTP_ADDR"] = $"127.0.0.1:{port}" });
        await hermes.WaitUntilAliveAsync(TimeSpan.FromSeconds(30));
        await harness.FlushAsync();
        Assert.Equal(200, harness.Client.Statistics.Sent);
        await AssertStoredExactlyAsync(db, [.. first, .. more.Take(100).Select(id => id!.Value)], extraRows: 0);
    }

    /// <summary>Every id is a row exactly once, and the table holds only <paramref name="extraRows"/> others.</summary>
    private static async Task AssertStoredExactlyAsync(string db, IEnumerable<Guid> ids, int extraRows)
    {
        var expected = ids.Select(id => id.ToString()).ToHashSet();
        // Non-durable 202s are stored a FLUSH_INTERVAL later: wait for the count, then compare ids.
        await Database.WaitForCountAsync(db, "SELECT count(*) FROM events", expected.Count + extraRows, TimeSpan.FromSeconds(30));
        var rows = (await Database.RowsAsync(db, "SELECT id FROM events")).Select(r => (string)r[0]!).ToList();
        Assert.Equal(expected.Count + extraRows, rows.Count);
        Assert.Equal(rows.Count, rows.Distinct().Count());
        Assert.Subset(rows.ToHashSet(), expected);
    }

    /// <summary>Tracks an event every millisecond while running, and 100 more as it stops, as a producer does on its way out.</summary>
    private sealed class TrackingWorker(HermesClient hermes, ConcurrentQueue<Guid> ids) : BackgroundService
    {
        public override async Task StopAsync(CancellationToken cancellationToken)
        {
            await base.StopAsync(cancellationToken);
            for (var i = 0; i < 100; i++)
            {
                ids.Enqueue(hermes.Track("trip_started", "user-leaving", new { i }) ?? throw new InvalidOperationException("dropped on the way out"));
            }
        }

        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            try
            {
                for (var i = 0; !stoppingToken.IsCancellationRequested; i++)
                {
                    ids.Enqueue(hermes.Track("location_update", $"user-{i % 10}", new { i }) ?? throw new InvalidOperationException("dropped"));
                    await Task.Delay(1, stoppingToken);
                }
            }
            catch (OperationCanceledException)
            {
            }
        }
    }
}
