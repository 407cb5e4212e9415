using AqaStream.Cli.Hosting;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;
using AqaStream.Pipeline.Live;
using AqaStream.Tests.Shared;
using Xunit;

namespace AqaStream.Cli.Tests;

/// <summary>The composition root on the in-memory bus: the boxes run as hosted services, drain, stop, and a box that
/// fails stops the host and hands its error to the caller.</summary>
public sealed class AqaHostTests
{
    private static string Checkpoint => Path.Combine(RepositoryRoot.Path, "models", "synth-demo.safetensors");

    [Fact]
    public async Task ScorerBox_ScoresEveryClip_DrainsWhenItsInputCompletes_ThenStops()
    {
        await using var bus = new InMemoryBus();
        var model = ScoringModel.Load(Checkpoint);
        await using var system = AqaHost.Build(new AqaHostOptions { Boxes = AqaBoxes.Scorer, Model = model, Checkpoint = Checkpoint }, bus);
        Assert.Null(system.Web);
        Assert.Null(system.Ingest);
        using var results = bus.Subscribe(Topics.ClipScored, "test");
        await system.StartAsync();

        const int clips = 12;
        var producer = bus.Producer(Topics.ClipFeatures);
        var rng = new Random(3);
        await producer.ProduceAsync("h1", new PerformanceStarted("h1", "Ana Lee", "synthetic", "free-skating", model.Card.Target, DateTimeOffset.UtcNow));
        for (var c = 0; c < clips; c++)
        {
            await producer.ProduceAsync("h1", new ClipFeatures("h1", c, c * 1.28, (c + 1) * 1.28, [.. Enumerable.Range(0, model.Scorer.FeatureDim).Select(_ => (float)rng.NextDouble())]));
        }
        await producer.ProduceAsync("h1", new PerformanceEnded("h1", DateTimeOffset.UtcNow, clips));
        bus.Complete(Topics.ClipFeatures);
        await system.UntilEnded("scorer").WaitAsync(TimeSpan.FromSeconds(60));   // the box ends on its own once its input is done
        await system.StopAsync();
        bus.Complete(Topics.ClipScored);

        var scored = new List<ClipScored>();
        await foreach (var r in results.ConsumeAsync()) { scored.Add(r.Value); }
        Assert.Equal(Enumerable.Range(0, clips), scored.Where(s => !s.Final).Select(s => s.Clip!.ClipIndex));
        var provisional = scored.ConvertAll(s => s.Provisional);
        var final = Assert.Single(provisional, p => p.Final);
        Assert.Equal(clips, final.ClipsSeen);
        Assert.Equal(clips, system.Scorer!.Counters.ClipsScored);
    }

    [Fact]
    public async Task ScorerBox_WithoutIngest_ServesAModelOfAnotherFeatureWidth_SameScoresAsOffline_AClipOfTheWrongWidthIsDeadLettered()
    {
        // The Fis-V TES default reads 1024 Video Swin values per clip, which this process's ingest does not make: a
        // scorer box fed by a venue's own extractor serves it, and scores as the offline path does.
        var path = Path.Combine(RepositoryRoot.Path, "models", "fisv-tes.safetensors");
        await using var bus = new InMemoryBus();
        var model = ScoringModel.Load(path);
        Assert.Equal(1024, model.Scorer.FeatureDim);
        await using var system = AqaHost.Build(new AqaHostOptions { Boxes = AqaBoxes.Scorer, Model = model, Checkpoint = path }, bus);
        using var results = bus.Subscribe(Topics.ClipScored, "test");
        using var dead = bus.Subscribe(Topics.DeadLetters, "test");
        await system.StartAsync();
        const int clips = 20;
        var rng = new Random(11);
        var features = new float[clips * 1024];
        Scoring.Data.Gaussian.Fill(features, rng);
        var producer = bus.Producer(Topics.ClipFeatures);
        await producer.ProduceAsync("f1", new PerformanceStarted("f1", "Ana Lee", "test", "short-program", model.Card.Target, DateTimeOffset.UtcNow));
        for (var c = 0; c < clips; c++)
        {
            await producer.ProduceAsync("f1", new ClipFeatures("f1", c, c * 1.28, (c + 1) * 1.28, features.AsSpan(c * 1024, 1024).ToArray()));
            if (c == 5) { await producer.ProduceAsync("f1", new ClipFeatures("f1", 99, 0, 1.28, new float[16])); }
        }
        await producer.ProduceAsync("f1", new PerformanceEnded("f1", DateTimeOffset.UtcNow, clips));
        bus.Complete(Topics.ClipFeatures);
        await system.UntilEnded("scorer").WaitAsync(TimeSpan.FromSeconds(60));
        await system.StopAsync();
        bus.Complete(Topics.ClipScored);
        bus.Complete(Topics.DeadLetters);

        var scored = new List<ClipScored>();
        await foreach (var r in results.ConsumeAsync()) { scored.Add(r.Value); }
        var final = Assert.Single(scored, s => s.Provisional.Final).Provisional;
        Assert.Equal(clips, final.ClipsSeen);
        var offline = Scoring.Model.PerformanceScorer.Score(new Scoring.Checkpoints.LoadedModel(model.Scorer, model.Card),
            [new Scoring.Data.PerformanceSample("f1", features, clips, 1024, null)])[0].Score;
        AssertClose.Equal(offline, final.Total, absolute: 1e-3, relative: 1e-5);
        var letters = new List<DeadLetter>();
        await foreach (var r in dead.ConsumeAsync()) { letters.Add(r.Value); }
        Assert.Contains("1024", Assert.Single(letters).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FailingBox_StopsTheHost_AndItsErrorReachesTheCaller()
    {
        await using var bus = new InMemoryBus();
        // A misconfiguration the scorer meets when it subscribes: its input topic already carries another message type.
        _ = bus.Producer(new Topic<ClipScore>(Topics.ClipFeatures.Name));
        var model = ScoringModel.Load(Checkpoint);
        await using var system = AqaHost.Build(new AqaHostOptions { Boxes = AqaBoxes.Scorer, Model = model, Checkpoint = Checkpoint }, bus);
        await system.StartAsync();
        var run = system.RunUntilStoppedAsync();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => run.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("aqa.clip-features", error.Message, StringComparison.Ordinal);
        Assert.True(system.Stopping.IsCancellationRequested, "the failing box stopped the host");
    }
}
