using System.CommandLine;
using System.Globalization;
using AqaStream.Media.Decoding;
using AqaStream.Media.Synthetic;

namespace AqaStream.Cli.Commands;

/// <summary><c>aqa synth</c>: a synthetic benchmark with per-clip truth, generated through the real video path.</summary>
internal static class SynthCommand
{
    public static Command Create()
    {
        var d = new SyntheticDatasetOptions();
        var count = new Option<int>("--count") { Description = "Performances to generate.", DefaultValueFactory = _ => d.Count };
        var seed = new Option<int>("--seed") { Description = "Seed: the same seed gives the same dataset.", DefaultValueFactory = _ => d.Seed };
        var output = new Option<DirectoryInfo>("--out") { Description = "Directory to write (features/, truth/, train.txt, test.txt, test_ids.txt, dataset.json).", Required = true };
        var size = new Option<string>("--size") { Description = "Picture size the videos are rendered and encoded at.", DefaultValueFactory = _ => d.Encoder.Size.ToString() };
        var testFraction = new Option<double>("--test-fraction") { Description = "Share of performances listed in test.txt.", DefaultValueFactory = _ => d.TestFraction };
        var threads = CommonOptions.Threads();
        threads.Description = "Performances generated at once (each runs its own ffmpeg encode and decode).";
        var cmd = new Command("synth", "Generate a synthetic benchmark: rendered skaters with known per-clip difficulty and execution, encoded with libx264, "
            + "decoded with ffmpeg, windowed and featurised like live video. train/eval/replay read it like Fis-V.")
        {
            count, seed, output, size, testFraction, threads,
        };
        cmd.SetAction(r => AqaApp.Guarded(() =>
        {
            var options = d with
            {
                Count = r.GetValue(count),
                Seed = r.GetValue(seed),
                TestFraction = r.GetValue(testFraction),
                Parallelism = Math.Max(1, r.GetValue(threads)),
                Encoder = d.Encoder with { Size = FrameSize.Parse(r.GetValue(size)!) },
            };
            var dir = r.Required(output).FullName;
            Ffmpeg.EnsureAvailable();
            var bar = new ProgressBar(options.Count, "performances");
            var info = SyntheticDataset.GenerateAsync(dir, options, new Progress<int>(n => bar.Report(n))).GetAwaiter().GetResult();
            bar.Done();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote {info.Count} performances to {dir}: {info.Extractor} features ({info.FeatureDim} per clip of {info.ClipFrames} frames), truth/, train.txt, test.txt"));
            return 0;
        }));
        return cmd;
    }
}
