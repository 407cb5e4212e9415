using System.Diagnostics.Metrics;
using AqaStream.Pipeline.Telemetry;
using Xunit;

namespace AqaStream.Pipeline.Tests;

/// <summary>The exported instruments read the counter classes when collected: a listener that starts late sees the
/// whole totals, dead letters are split by topic, and the clients level can go down.</summary>
public sealed class MetricsTests
{
    private sealed class Source(params CounterReading[] readings) : ICounterSource
    {
        public CounterReading[] Readings { get; set; } = readings;

        public void Read(ICollection<CounterReading> readings)
        {
            foreach (var r in Readings) { readings.Add(r); }
        }
    }

    private static Dictionary<string, long> Collect(string instrument)
    {
        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        using var listener = new MeterListener();
        listener.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == AqaMetrics.MeterName && i.Name == instrument) { l.EnableMeasurementEvents(i); }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            var topic = "";
            foreach (var t in tags) { if (t.Key == "topic") { topic = (string)t.Value!; } }
            seen[topic] = seen.GetValueOrDefault(topic) + value;
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return seen;
    }

    [Fact]
    public void ObservableCounters_SumRegisteredSources_ByTopic_AndSeeCountsMadeBeforeTheListener()
    {
        var topic = "t-" + Guid.NewGuid().ToString("N");
        var before = Collect("aqa.dead_letters").GetValueOrDefault(topic);
        Assert.Equal(0, before);
        AqaMetrics.Register(new Source(new CounterReading(AqaCounter.DeadLetters, 3, topic)));
        AqaMetrics.Register(new Source(new CounterReading(AqaCounter.DeadLetters, 4, topic), new CounterReading(AqaCounter.ClipsScored, 9)));
        Assert.Equal(7, Collect("aqa.dead_letters")[topic]);
        Assert.True(Collect("aqa.scorer.clips")[""] >= 9);
    }

    [Fact]
    public void ClientsLevel_GoesDown_WhenASourceReportsFewer()
    {
        var source = new Source(new CounterReading(AqaCounter.ConnectedClients, 5));
        AqaMetrics.Register(source);
        var high = Collect("aqa.delivery.clients")[""];
        source.Readings = [new CounterReading(AqaCounter.ConnectedClients, 2)];
        var low = Collect("aqa.delivery.clients")[""];
        Assert.True(high - low == 3 || high >= 5, $"{high} then {low}");
        Assert.True(low < high, $"{high} then {low}");
    }
}
