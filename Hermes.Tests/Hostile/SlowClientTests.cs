using System.Net.Sockets;
using System.Text;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Hostile;

/// <summary>Slow-loris: a client that dribbles its headers or body is cut off instead of holding a connection.</summary>
public sealed class SlowClientTests
{
    [Fact]
    public async Task Headers_sent_too_slowly_get_the_connection_closed()
    {
        await using var hermes = new HermesFactory(new() { ["REQUEST_HEADERS_TIMEOUT"] = "1s" });
        var client = hermes.Start();
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", client.BaseAddress!.Port, TestContext.Current.CancellationToken);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("POST /events HTTP/1.1\r\nHost: hermes\r\n"), TestContext.Current.CancellationToken);

        var (closed, response) = await ReadUntilClosedAsync(stream, TimeSpan.FromSeconds(8));

        Assert.True(closed, "the server kept a half-sent request open");
        Assert.True(response.Length == 0 || response.StartsWith("HTTP/1.1 408", StringComparison.Ordinal), response);
    }

    [Fact]
    public async Task Body_sent_too_slowly_is_refused_with_408_and_nothing_is_queued()
    {
        await using var hermes = new HermesFactory(new() { ["MIN_REQUEST_BODY_RATE"] = "1000", ["MIN_REQUEST_BODY_GRACE"] = "1500ms" });
        var client = hermes.Start();
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", client.BaseAddress!.Port, TestContext.Current.CancellationToken);
        var stream = tcp.GetStream();
        var body = Encoding.UTF8.GetBytes(Events.Json("slow-1", payload: "{\"pad\":\"" + new string('x', 3000) + "\"}"));
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST /events/batch HTTP/1.1\r\nHost: hermes\r\nContent-Type: application/x-ndjson\r\nContent-Length: {body.Length}\r\n\r\n"), TestContext.Current.CancellationToken);

        // 20 bytes every 200 ms is 100 bytes/s, a tenth of the minimum.
        var dribble = Task.Run(async () =>
        {
            try
            {
                for (var sent = 0; sent < body.Length; sent += 20)
                {
                    await stream.WriteAsync(body.AsMemory(sent, Math.Min(20, body.Length - sent)));
                    await Task.Delay(200);
                }
            }
            catch (IOException)
            {
                // The server hung up, as it should.
            }
        }, TestContext.Current.CancellationToken);
        var (closed, response) = await ReadUntilClosedAsync(stream, TimeSpan.FromSeconds(10));

        Assert.True(closed, "the server kept a dribbling body open");
        Assert.True(response.Length == 0 || response.StartsWith("HTTP/1.1 408", StringComparison.Ordinal), response);
        Assert.Equal(0, hermes.Service<Hermes.Ingest.Telemetry.IngestMetrics>().Accepted);
        await dribble.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
    }

    private static async Task<(bool Closed, string Response)> ReadUntilClosedAsync(NetworkStream stream, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var received = new StringBuilder();
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var read = await stream.ReadAsync(buffer, cts.Token);
                if (read == 0)
                {
                    return (true, received.ToString());
                }

                received.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }
        }
        catch (OperationCanceledException)
        {
            return (false, received.ToString());
        }
        catch (IOException)
        {
            return (true, received.ToString());
        }
    }
}
