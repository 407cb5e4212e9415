using System.Globalization;
using System.Reactive.Concurrency;
using AqaStream.Media.Features;
using AqaStream.Media.Decoding;
using AqaStream.Media.Ingest;
using AqaStream.Media.Synthetic;
using AqaStream.Media.Windowing;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;
using AqaStream.Pipeline.Live;
using AqaStream.Scoring.Data;

namespace AqaStream.Cli.Commands;

/// <summary>
/// <c>aqa encode --publish</c>: the whole live path in one process, printed to the console — the synthetic venue
/// streams chunks on the in-memory bus, the ingest decodes, windows and featurises them, the scorer publishes clip
/// and provisional scores, and this prints them as they come, with the panel's score at the end.
/// </summary>
internal static class LiveConsole
{
    public static async Task<int> RunAsync(VenueEncoderOptions encoderOptions, ScoringModel model, int seed, int count, double speed)
    {
        var inv = CultureInfo.InvariantCulture;
        await using var bus = new InMemoryBus();
        var extractor = new MotionAppearanceDescriptor();
        if (model.Scorer.FeatureDim != extractor.Dimension)
        {
            throw new ArgumentException($"The model reads {model.Scorer.FeatureDim} features per clip, the {extractor.Name} extractor gives {extractor.Dimension}: use a model trained on `aqa synth` data.");
        }
        using var decoder = new FfmpegChunkDecoder(extractor.InputSize);
        var window = new ClipWindowOptions { FramesPerSecond = encoderOptions.FramesPerSecond };
        var ingest = new VideoIngestService(bus, decoder, extractor, window, Scheduler.Default);
        var scorer = new LiveScoringService(bus, new Dictionary<ScoreTarget, ScoringModel> { [ScoreTarget.TES] = model }, new LivePipelineOptions(), Scheduler.Default);
        using var clipScores = bus.Subscribe(Topics.ClipScores, "console");
        using var provisional = bus.Subscribe(Topics.ProvisionalScores, "console");
        using var dead = bus.Subscribe(Topics.DeadLetters, "console");
        var ingestRun = ingest.RunAsync();
        var scorerRun = scorer.RunAsync();
        var lastClip = new Dictionary<string, ClipScore>();
        var printer = Task.Run(async () =>
        {
            await foreach (var r in provisional.ConsumeAsync())
            {
                var p = r.Value;
                if (p.Final)
                {
                    Console.WriteLine(string.Create(inv, $"{p.PerformanceId}: final {p.Total:F2} after {p.ClipsSeen} clips ({p.MissingClips.Count} missing)"));
                }
                else
                {
                    Console.WriteLine(string.Create(inv, $"{p.PerformanceId}  clip {p.ClipsSeen - 1,3}  provisional {p.Total,7:F2}"));
                }
            }
        });
        var clipPrinter = Task.Run(async () =>
        {
            await foreach (var r in clipScores.ConsumeAsync())
            {
                var c = r.Value;
                Console.WriteLine(string.Create(inv, $"{c.PerformanceId}  clip {c.ClipIndex,3}  {c.Start,6:F2}-{c.End,6:F2} s  weight {c.Weight:F3}  score {c.Score,7:F2}  contribution {c.Contribution,6:F2}"));
            }
        });
        var deadPrinter = Task.Run(async () =>
        {
            await foreach (var r in dead.ConsumeAsync()) { Console.Error.WriteLine($"dead letter ({r.Value.SourceTopic}): {r.Value.Reason}"); }
        });

        var venue = new VenueStream(new SyntheticEncoder(encoderOptions), TimeProvider.System, speed);
        var producer = bus.Producer(Topics.VideoChunks);
        for (var i = 0; i < count; i++)
        {
            var program = SyntheticProgram.Generate(seed + i);
            Console.WriteLine(string.Create(inv, $"{program.PerformanceId}: {program.Athlete} takes the ice ({program.DurationSeconds:F1} s, {program.Elements.Count(e => e.Kind != ElementKind.Glide)} elements; streaming {encoderOptions.Size} {encoderOptions.Container} chunks)"));
            await venue.PublishAsync(producer, program);
            await Task.Delay(TimeSpan.FromSeconds(0.5));
            Console.WriteLine(string.Create(inv, $"{program.PerformanceId}: the panel's score is {program.JudgesScore(encoderOptions.FramesPerSecond):F2}"));
        }
        bus.Complete(Topics.VideoChunks);
        await ingestRun;
        bus.Complete(Topics.ClipFeatures);
        await scorerRun;
        bus.Complete(Topics.ClipScores);
        bus.Complete(Topics.ProvisionalScores);
        bus.Complete(Topics.DeadLetters);
        await Task.WhenAll(printer, clipPrinter, deadPrinter);
        Console.WriteLine($"ingest: {ingest.Counters}; scorer: {scorer.Counters}");
        return 0;
    }
}
