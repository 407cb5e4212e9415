using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using AqaStream.Media.Decoding;
using AqaStream.Media.Synthetic;

namespace AqaStream.Cli.Commands;

/// <summary><c>aqa encode</c>: the synthetic venue encoder.</summary>
internal static class EncodeCommand
{
    public static Command Create()
    {
        var e = new VenueEncoderOptions();
        var output = new Option<DirectoryInfo?>("--out") { Description = "Write the chunks (chunk-00000.ts / .m4s + init.mp4 / .mp4), chunks.json (their metadata) and truth.json here." };
        var seed = new Option<int>("--seed") { Description = "Seed of the performance (same seed, same video and truth).", DefaultValueFactory = _ => 1 };
        var size = new Option<string>("--size") { Description = "Picture size.", DefaultValueFactory = _ => e.Size.ToString() };
        var container = new Option<string>("--container") { Description = "mpegts, cmaf or mp4.", DefaultValueFactory = _ => e.Container };
        container.AcceptOnlyFromAmong("mpegts", "cmaf", "mp4");
        var chunkSeconds = new Option<double>("--chunk-seconds") { Description = "Chunk length.", DefaultValueFactory = _ => e.ChunkSeconds };
        var preset = new Option<string>("--preset") { Description = "libx264 preset.", DefaultValueFactory = _ => e.Preset };
        var cmd = new Command("encode", "The synthetic venue encoder: render one synthetic performance and encode it with libx264 (25 fps, independent chunks). "
            + "With --out it writes the chunks and the ground truth; `aqa demo` (and, with Kafka, `--publish`) stream it live.")
        {
            output, seed, size, container, chunkSeconds, preset,
        };
        cmd.SetAction(r => AqaApp.Guarded(() =>
        {
            var dir = r.GetValue(output) ?? throw new ArgumentException("--out is required (publishing live on a bus comes with `aqa demo` and the Kafka transport).");
            Ffmpeg.EnsureAvailable();
            var options = e with
            {
                Size = FrameSize.Parse(r.GetValue(size)!),
                Container = r.GetValue(container)!,
                ChunkSeconds = r.GetValue(chunkSeconds),
                Preset = r.GetValue(preset)!,
            };
            var program = SyntheticProgram.Generate(r.GetValue(seed));
            Directory.CreateDirectory(dir.FullName);
            var encoder = new SyntheticEncoder(options);
            var frames = program.FrameCount(options.FramesPerSecond);
            var bar = new ProgressBar((frames + options.ChunkFrames - 1) / options.ChunkFrames, "chunks");
            var chunks = new List<object>();
            var extension = options.Container switch { "mpegts" => "ts", "cmaf" => "m4s", _ => "mp4" };
            foreach (var chunk in encoder.EncodeAsync(program).ToBlockingEnumerable())
            {
                var name = string.Create(CultureInfo.InvariantCulture, $"chunk-{chunk.SequenceNumber:D5}.{extension}");
                File.WriteAllBytes(Path.Combine(dir.FullName, name), chunk.Bytes);
                if (chunk.InitSegment is { } init) { File.WriteAllBytes(Path.Combine(dir.FullName, "init.mp4"), init); }
                chunks.Add(new { file = name, sequence_number = chunk.SequenceNumber, start_seconds = chunk.StartSeconds, duration_seconds = chunk.DurationSeconds, frames = chunk.FrameCount, bytes = chunk.Bytes.Length });
                bar.Report((int)chunk.SequenceNumber + 1);
            }
            bar.Done();
            var meta = new { performance_id = program.PerformanceId, athlete = program.Athlete, container = options.Container, codec = "h264", size = options.Size.ToString(), frames_per_second = options.FramesPerSecond, chunks };
            File.WriteAllText(Path.Combine(dir.FullName, "chunks.json"), JsonSerializer.Serialize(meta, SyntheticTruth.Json) + "\n");
            var truth = new SyntheticTruth(program.PerformanceId, program.Athlete, program.Seed, program.Skill, program.DurationSeconds,
                program.JudgesScore(options.FramesPerSecond), program.Elements, []);
            File.WriteAllText(Path.Combine(dir.FullName, "truth.json"), JsonSerializer.Serialize(truth, SyntheticTruth.Json) + "\n");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{program.PerformanceId} ({program.Athlete}): {program.DurationSeconds:F1} s, {chunks.Count} {options.Container} chunks at {options.Size}, judges' score {truth.JudgesScore:F2} -> {dir.FullName}"));
            return 0;
        }));
        return cmd;
    }
}
