using System.Globalization;
using AqaStream.Cli.Hosting;
using AqaStream.Media.Synthetic;
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
        await using var system = AqaHost.Build(new AqaHostOptions
        {
            Boxes = AqaBoxes.Ingest | AqaBoxes.Scorer,
            // The synthetic venue's performances are TES; the model scores them whatever target its card names.
            Model = model.Card.Target == ScoreTarget.TES ? model : new ScoringModel(model.Scorer, model.Card with { Target = ScoreTarget.TES }, model.Version, model.Mode),
            FramesPerSecond = encoderOptions.FramesPerSecond,
        }, bus);
        using var scored = bus.Subscribe(Topics.ClipScored, "console");
        using var dead = bus.Subscribe(Topics.DeadLetters, "console");
        await system.StartAsync();
        var printer = Task.Run(async () =>
        {
            await foreach (var r in scored.ConsumeAsync())
            {
                var p = r.Value.Provisional;
                if (r.Value.Clip is { } c)
                {
                    Console.WriteLine(string.Create(inv, $"{c.PerformanceId}  clip {c.ClipIndex,3}  {c.Start,6:F2}-{c.End,6:F2} s  weight {c.Weight:F3}  score {c.Score,7:F2}  contribution {c.Contribution,6:F2}{(c.Deduction != 0 ? "  deduction " + c.Deduction.ToString("F2", inv) : "")}"));
                }
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
        // Drain: each box ends once its input topic is complete and everything on it is done.
        bus.Complete(Topics.VideoChunks);
        await system.UntilEnded("ingest");
        bus.Complete(Topics.ClipFeatures);
        await system.UntilEnded("scorer");
        await system.StopAsync();
        bus.Complete(Topics.ClipScored);
        bus.Complete(Topics.DeadLetters);
        await Task.WhenAll(printer, deadPrinter);
        Console.WriteLine($"ingest: {system.Ingest!.Counters}; scorer: {system.Scorer!.Counters}");
        return 0;
    }
}
