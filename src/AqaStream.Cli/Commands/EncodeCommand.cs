using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using AqaStream.Media.Decoding;
using AqaStream.Media.Synthetic;
using AqaStream.Media.Windowing;
using AqaStream.Pipeline.Live;

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
        var publish = new Option<bool>("--publish")
        {
            Description = "Stream live instead: publish the chunks in real time on the in-process bus, where the ingest (decode, windows, features) "
                + "and the live scorer run, and print every clip's weight, score and provisional score as it comes.",
        };
        var checkpoint = new Option<FileInfo>("--checkpoint") { Description = "With --publish: the model that scores.", DefaultValueFactory = _ => new FileInfo(RepositoryLayout.SynthDemoModel) };
        var count = new Option<int>("--count") { Description = "With --publish: performances streamed one after another (seeds SEED, SEED+1, ...).", DefaultValueFactory = _ => 1 };
        var speed = new Option<double>("--speed") { Description = "With --publish: 1 = real time, 4 = four times faster.", DefaultValueFactory = _ => 1 };
        var run = new Option<string?>("--run")
        {
            Description = "With --publish --bus kafka: appended to every performance id (SEED's id + '-' + RUN), so a re-run does not reuse ids "
                + "already on the topics (default: the current UTC time, yyyyMMddHHmmss).",
        };
        var kafka = new KafkaCli();
        var cmd = new Command("encode", "The synthetic venue encoder: render one synthetic performance and encode it with libx264 (25 fps, independent chunks). "
            + "With --out it writes the chunks and the ground truth; --publish streams it live through the ingest and the scorer in this process.")
        {
            output, seed, size, container, chunkSeconds, preset, publish, checkpoint, count, speed, run,
        };
        kafka.AddTo(cmd);
        cmd.Description += " With --publish --bus kafka it is the venue alone: chunks go to aqa.video-chunks, where `aqa serve` ingests and scores them.";
        cmd.SetAction(r => AqaApp.Guarded(() =>
        {
            Ffmpeg.EnsureAvailable();
            var options = e with
            {
                Size = FrameSize.Parse(r.GetValue(size)!),
                Container = r.GetValue(container)!,
                ChunkSeconds = r.GetValue(chunkSeconds),
                Preset = r.GetValue(preset)!,
            };
            if (r.GetValue(publish) && kafka.IsKafka(r))
            {
                var tag = r.GetValue(run) ?? DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
                return PublishToBusAsync(r, kafka, options, r.GetValue(seed), Math.Max(1, r.GetValue(count)), r.GetValue(speed), tag).GetAwaiter().GetResult();
            }
            if (r.GetValue(publish))
            {
                var model = ScoringModel.Load(CommonOptions.ExistingFile(r.GetValue(checkpoint)!, "checkpoint"), null);
                return LiveConsole.RunAsync(options, model, r.GetValue(seed), Math.Max(1, r.GetValue(count)), r.GetValue(speed)).GetAwaiter().GetResult();
            }
            var dir = r.GetValue(output) ?? throw new ArgumentException("--out DIR or --publish is required.");
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
            var truth = SyntheticTruth.Of(program, new ClipWindowOptions { FramesPerSecond = options.FramesPerSecond });
            File.WriteAllText(Path.Combine(dir.FullName, "truth.json"), JsonSerializer.Serialize(truth, SyntheticTruth.Json) + "\n");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{program.PerformanceId} ({program.Athlete}): {program.DurationSeconds:F1} s, {chunks.Count} {options.Container} chunks at {options.Size}, judges' score {truth.JudgesScore:F2} -> {dir.FullName}"));
            return 0;
        }));
        return cmd;
    }

    private static async Task<int> PublishToBusAsync(System.CommandLine.ParseResult r, KafkaCli kafka, VenueEncoderOptions options, int seed, int count, double speed, string tag)
    {
        if (!(speed > 0)) { throw new ArgumentException("--speed must be positive (1 = real time)."); }
        var inv = CultureInfo.InvariantCulture;
        await using var bus = await kafka.ConnectAsync(r, CancellationToken.None).ConfigureAwait(false);
        var venue = new VenueStream(new SyntheticEncoder(options), TimeProvider.System, speed);
        var producer = new CountingProducer(bus.Producer(Pipeline.Bus.Topics.VideoChunks));
        for (var i = 0; i < count; i++)
        {
            var program = SyntheticProgram.Generate(seed + i);
            program = SyntheticProgram.Generate(seed + i, $"{program.PerformanceId}-{tag}");
            Console.WriteLine(string.Create(inv, $"{program.PerformanceId}: {program.Athlete}, {program.DurationSeconds:F1} s, publishing at {speed}x to {Pipeline.Bus.Topics.VideoChunks.Name}"));
            await venue.PublishAsync(producer, program).ConfigureAwait(false);
            Console.WriteLine(string.Create(inv, $"{program.PerformanceId}: {producer.Chunks} chunks ({producer.Bytes / 1024.0:F0} KiB) published; judges' score {program.JudgesScore(options.FramesPerSecond):F2}"));
            producer.Reset();
        }
        if (bus is Kafka.KafkaBus k) { k.Flush(); }
        return 0;
    }

    private sealed class CountingProducer(Pipeline.Bus.IBusProducer<Pipeline.Contracts.PerformanceMessage> inner) : Pipeline.Bus.IBusProducer<Pipeline.Contracts.PerformanceMessage>
    {
        public int Chunks { get; private set; }

        public long Bytes { get; private set; }

        public void Reset() { Chunks = 0; Bytes = 0; }

        public ValueTask ProduceAsync(string key, Pipeline.Contracts.PerformanceMessage value, CancellationToken cancellationToken = default)
        {
            if (value is Pipeline.Contracts.VideoChunk c) { Chunks++; Bytes += c.Payload?.Length ?? 0; }
            return inner.ProduceAsync(key, value, cancellationToken);
        }
    }
}
