using Microsoft.Extensions.Time.Testing;

namespace Hermes.Tests.Infrastructure;

/// <summary>
/// A fake clock whose wall time can be stepped (as NTP or an operator steps a real one) while its monotonic
/// timestamp and timers go on undisturbed: <see cref="FakeTimeProvider.Advance"/> moves both, <see cref="StepWallClock"/>
/// only the wall time.
/// </summary>
public sealed class SteppingClock(DateTimeOffset start) : FakeTimeProvider(start)
{
    private TimeSpan _step;

    public void StepWallClock(TimeSpan by) => _step += by;

    public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + _step;

    // FakeTimeProvider derives its timestamp from (virtual) GetUtcNow; keep it on the unstepped time.
    public override long GetTimestamp() => base.GetUtcNow().UtcTicks;
}
