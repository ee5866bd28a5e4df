extern alias Dashboard;

using Dashboard::Hermes.Dashboard.Views;

namespace Hermes.Tests.Dashboard;

public sealed class FormatTests
{
    [Theory]
    [InlineData(0, "0")]
    [InlineData(999, "999")]
    [InlineData(1234567, "1,234,567")]
    public void Counts_are_exact_with_thousands_separators(long value, string expected) =>
        Assert.Equal(expected, Format.Count(value));

    [Theory]
    [InlineData(0, "0")]
    [InlineData(12.34, "12.3")]
    [InlineData(8200, "8,200")]
    [InlineData(12_300, "12.3k")]
    [InlineData(166_667, "167k")]
    [InlineData(1_250_000, "1.25M")]
    [InlineData(3_000_000_000, "3G")]
    public void Rates_and_axes_are_compact(double value, string expected) =>
        Assert.Equal(expected, Format.Compact(value));

    [Theory]
    [InlineData(0.42, "0.42 ms")]
    [InlineData(12.34, "12.3 ms")]
    [InlineData(1500, "1.5 s")]
    public void Latencies_pick_their_unit(double ms, string expected) =>
        Assert.Equal(expected, Format.Milliseconds(ms));

    [Theory]
    [InlineData(0, "0 B")]
    [InlineData(512, "512 B")]
    [InlineData(1536, "1.5 KiB")]
    [InlineData(3L * 1024 * 1024 * 1024, "3 GiB")]
    public void Spill_sizes_are_binary_units(long bytes, string expected) =>
        Assert.Equal(expected, Format.Bytes(bytes));

    [Theory]
    [InlineData(0, 100, "0%")]
    [InlineData(1, 300, "0.3%")]
    [InlineData(80_000, 100_000, "80%")]
    [InlineData(5, 0, "0%")]
    public void Queue_fill_is_a_percentage(long part, long whole, string expected) =>
        Assert.Equal(expected, Format.Percent(part, whole));

    [Fact]
    public void Minutes_read_as_utc_clock_time() =>
        Assert.Equal("22:13", Format.Minute(1699999980));
}
