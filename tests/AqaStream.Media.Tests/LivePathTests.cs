using System.Reactive.Concurrency;
using AqaStream.Media.Features;
using AqaStream.Media.Ingest;
using AqaStream.Media.Synthetic;
using AqaStream.Media.Windowing;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;
using AqaStream.Pipeline.Live;
using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;
using Xunit;
using AqaStream.Tests.Shared;

namespace AqaStream.Media.Tests;

public class LivePathTests
{
    [Fact]
    public async Task VenueToProvisional_EndToEnd_FinalEqualsOfflineScoreOfTheSameFeatures()
    {
        var options = new DecoderOptions { FeatureDim = MotionAppearanceDescriptor.FeatureLength, MaxQueries = 64 };
        var coefficients = new float[options.FeatureDim];
        Gaussian.Fill(coefficients, new Random(3), 0f, 0.5f);
        var network = new MeanPooledRidge(coefficients, intercept: 0.5f, lengthCoefficient: 0f, maxClips: options.MaxQueries);
        var model = new ScoringModel(network, new ModelCard { ModelId = "t", Architecture = options, ScoreScale = 50 }, "v1", IncrementalMode.Exact);
        await using var bus = new InMemoryBus();
        using var decoder = MediaFixture.Decoder();
        var ingest = new VideoIngestService(bus, decoder, new MotionAppearanceDescriptor(), new ClipWindowOptions(), Scheduler.Default);
        var scorer = new LiveScoringService(bus, new Dictionary<ScoreTarget, ScoringModel> { [ScoreTarget.TES] = model }, new LivePipelineOptions { Lanes = 1 }, Scheduler.Default);
        using var features = bus.Subscribe(Topics.ClipFeatures, "test");
        using var scored = bus.Subscribe(Topics.ClipScored, "test");
        var ingestRun = ingest.RunAsync();
        var scorerRun = scorer.RunAsync();

        // 8 s of video published at 20× real time by the synthetic venue.
        var venue = new VenueStream(new SyntheticEncoder(new VenueEncoderOptions { Size = MediaFixture.Size, Threads = 1 }), TimeProvider.System, speed: 20);
        await venue.PublishAsync(bus.Producer(Topics.VideoChunks), MediaFixture.Program);
        bus.Complete(Topics.VideoChunks);
        await ingestRun.WaitAsync(TimeSpan.FromSeconds(60));
        bus.Complete(Topics.ClipFeatures);
        await scorerRun.WaitAsync(TimeSpan.FromSeconds(30));
        bus.Complete(Topics.ClipScored);

        var clips = new List<ClipFeatures>();
        await foreach (var r in features.ConsumeAsync()) { if (r.Value is ClipFeatures f) { clips.Add(f); } }
        var scores = new List<ProvisionalScore>();
        await foreach (var r in scored.ConsumeAsync()) { scores.Add(r.Value.Provisional); }

        Assert.Equal(6, clips.Count);
        var final = Assert.Single(scores, s => s.Final);
        Assert.Equal(6, final.ClipsSeen);
        Assert.Empty(final.MissingClips);
        var offline = network.Score([new PerformanceSample("p-test", [.. clips.SelectMany(c => c.Vector)], 6, options.FeatureDim, null)], 50)[0];
        AssertClose.Equal((double)offline.Score, final.Total, absolute: 1e-3, relative: 1e-3);
        Assert.Equal([1, 2, 3, 4, 5, 6], scores.Where(s => !s.Final).Select(s => s.ClipsSeen));   // one provisional per clip as it arrived
    }
}
