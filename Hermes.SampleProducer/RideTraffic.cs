using Hermes.Client;
using Microsoft.Extensions.Options;

namespace Hermes.SampleProducer;

/// <summary>
/// A ride-hailing app's riders through a day squeezed into ten minutes: the rate swings from a lull at 0.3 times the
/// average to a rush at 1.7 times, with the odd half-minute surge on top, and the mix shifts with it (trips start at
/// the rush, songs play once riders are in their cars, ads get clicked in the lull), so the dashboard's per-minute
/// chart has a shape. Ten ticks a second, each tracking as many events as the current rate asks for.
/// </summary>
public sealed partial class RideTraffic(HermesClient hermes, IOptions<RideTrafficOptions> options, TimeProvider time, ILogger<RideTraffic> logger)
    : BackgroundService
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Day = TimeSpan.FromMinutes(10);

    private static readonly (string Name, double Lat, double Lon)[] Cities =
        [("Lisbon", 38.7223, -9.1393), ("Berlin", 52.5200, 13.4050), ("Austin", 30.2672, -97.7431),
         ("Nairobi", -1.2921, 36.8219), ("Seoul", 37.5665, 126.9780), ("São Paulo", -23.5505, -46.6333)];

    private static readonly (string Id, string Artist, string Title, int DurationMs)[] Songs =
        [("s-1001", "Daft Punk", "Digital Love", 301_000), ("s-1002", "Rosalía", "Malamente", 150_000),
         ("s-1003", "Fela Kuti", "Water No Get Enemy", 578_000), ("s-1004", "NewJeans", "Ditto", 185_000),
         ("s-1005", "Caetano Veloso", "Sozinho", 201_000), ("s-1006", "Kraftwerk", "Autobahn", 1_365_000)];

    private static readonly string[] Campaigns = ["spring-rides", "airport-flat-fare", "music-trial", "food-delivery"];
    private static readonly string[] Placements = ["in_ride_screen", "app_banner", "receipt"];
    private static readonly string[] Products = ["standard", "comfort", "xl"];

    private readonly Random _random = new();
    private Rider[] _riders = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        _riders = [.. Enumerable.Range(1, settings.Riders).Select(i => new Rider($"rider-{i:D5}", Cities[i % Cities.Length]))];
        foreach (var rider in _riders)
        {
            // Mid-trip already, as in an app that was busy before we looked (about 98% are, in the steady state):
            // starting idle, a rider's first location update starts a trip, and the first minutes were two thirds
            // trip_started.
            rider.StartTrip(_random);
        }

        var started = time.GetTimestamp();
        var surgeUntil = TimeSpan.Zero;
        var lastReport = (At: started, Stats: hermes.Statistics);

        using var timer = new PeriodicTimer(Tick, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var now = time.GetElapsedTime(started);
            if (now > surgeUntil && _random.Next(600) == 0)
            {
                surgeUntil = now + TimeSpan.FromSeconds(_random.Next(20, 40)); // about once a minute
            }

            var phase = 2 * Math.PI * (now / Day);
            var rate = settings.EventsPerSecond * (1 + 0.7 * Math.Sin(phase)) * (now < surgeUntil ? 1.5 : 1);
            var expected = rate * Tick.TotalSeconds;
            var count = (int)expected + (_random.NextDouble() < expected % 1 ? 1 : 0);
            for (var i = 0; i < count; i++)
            {
                TrackOne(phase);
            }

            if (time.GetElapsedTime(lastReport.At) >= TimeSpan.FromMinutes(1))
            {
                var stats = hermes.Statistics;
                LogMinute(logger, stats.Tracked - lastReport.Stats.Tracked, stats.Sent - lastReport.Stats.Sent,
                    stats.DroppedBufferFull - lastReport.Stats.DroppedBufferFull, stats.Buffered);
                lastReport = (time.GetTimestamp(), stats);
            }
        }
    }

    /// <summary>One event from one rider, of a type drawn from weights that move with the time of "day".</summary>
    private void TrackOne(double phase)
    {
        var rider = _riders[_random.Next(_riders.Length)];
        double trips = 0.10 * (1 + 0.6 * Math.Sin(phase)), songs = 0.25 * (1 + 0.5 * Math.Sin(phase - 1.2)),
            ads = 0.06 * (1 + 0.8 * Math.Sin(phase + 2.0)), locations = 0.55;
        var pick = _random.NextDouble() * (trips + songs + ads + locations);

        if (pick < trips || (pick >= trips + songs + ads && rider.TripId is null))
        {
            rider.StartTrip(_random);
            hermes.Track("trip_started", rider.Id, new
            {
                trip_id = rider.TripId,
                city = rider.City,
                pickup = new { lat = Math.Round(rider.Lat, 5), lon = Math.Round(rider.Lon, 5) },
                product = Products[_random.Next(Products.Length)],
                fare_estimate_cents = _random.Next(600, 4_500),
            });
        }
        else if (pick < trips + songs)
        {
            var song = Songs[_random.Next(Songs.Length)];
            hermes.Track("song_played", rider.Id, new
            {
                song_id = song.Id,
                artist = song.Artist,
                title = song.Title,
                duration_ms = song.DurationMs,
                source = _random.Next(3) switch { 0 => "playlist", 1 => "radio", _ => "search" },
                trip_id = rider.TripId,
            });
        }
        else if (pick < trips + songs + ads)
        {
            hermes.Track("ad_clicked", rider.Id, new
            {
                ad_id = $"ad-{_random.Next(1, 40):D3}",
                campaign = Campaigns[_random.Next(Campaigns.Length)],
                placement = Placements[_random.Next(Placements.Length)],
            });
        }
        else
        {
            var speed = rider.Drive(_random);
            hermes.Track("location_update", rider.Id, new
            {
                trip_id = rider.TripId,
                lat = Math.Round(rider.Lat, 5),
                lon = Math.Round(rider.Lon, 5),
                speed_kmh = Math.Round(speed, 1),
                heading_deg = rider.Heading,
            });
            if (_random.Next(40) == 0)
            {
                rider.TripId = null; // arrived
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Last minute: tracked {Tracked} events, Hermes accepted {Sent}, {Dropped} dropped for a full buffer, {Buffered} buffered")]
    private static partial void LogMinute(ILogger logger, long tracked, long sent, long dropped, int buffered);

    /// <summary>A rider in a city, with the trip they are on, if any, and where their car is.</summary>
    private sealed class Rider(string id, (string Name, double Lat, double Lon) city)
    {
        public string Id { get; } = id;

        public string City { get; } = city.Name;

        public string? TripId { get; set; }

        public double Lat { get; private set; } = city.Lat;

        public double Lon { get; private set; } = city.Lon;

        public int Heading { get; private set; }

        /// <summary>A new trip from somewhere within about 5 km of the city centre.</summary>
        public void StartTrip(Random random)
        {
            TripId = $"trip-{random.Next():x8}";
            Heading = random.Next(360);
            Lat = city.Lat + (random.NextDouble() - 0.5) * 0.09;
            Lon = city.Lon + (random.NextDouble() - 0.5) * 0.09;
        }

        /// <summary>Moves the car about 100 m in roughly its heading; returns its speed.</summary>
        public double Drive(Random random)
        {
            Heading = (Heading + random.Next(-30, 31) + 360) % 360;
            var radians = Heading * Math.PI / 180;
            Lat += 0.0009 * Math.Cos(radians);
            Lon += 0.0009 * Math.Sin(radians);
            return 15 + random.NextDouble() * 45;
        }
    }
}
