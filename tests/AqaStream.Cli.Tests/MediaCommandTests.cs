using System.Globalization;
using System.Text.Json;
using AqaStream.Media.Decoding;
using AqaStream.Media.Synthetic;
using AqaStream.Scoring.Data;
using Xunit;
using AqaStream.Tests.Shared;

namespace AqaStream.Cli.Tests;

public sealed class MediaCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void EncodePublish_InMemory_WholeLivePathPrintsEveryClipAndTheFinal()
    {
        // encode --publish without Kafka: venue, ingest and scorer composed by AqaHost in one process, drained at the end.
        var r = CliRunner.Run("encode", "--publish", "--seed", "2", "--size", "320x180", "--speed", "8", "--checkpoint",
            Path.Combine(RepositoryRoot.Path, "models", "synth-demo.safetensors"));
        Assert.True(r.ExitCode == 0, r.Stderr);
        var lines = r.Stdout.Split('\n');
        var provisional = lines.Where(l => l.StartsWith("synth-2  clip", StringComparison.Ordinal) && l.Contains("provisional", StringComparison.Ordinal)).ToList();
        var final = Assert.Single(lines, l => l.StartsWith("synth-2: final ", StringComparison.Ordinal));
        Assert.Contains($"after {provisional.Count} clips (0 missing)", final, StringComparison.Ordinal);
        Assert.True(provisional.Count > 10, r.Stdout);
        Assert.Contains(lines, l => l.StartsWith("synth-2: the panel's score is ", StringComparison.Ordinal));
        Assert.Contains($"scored {provisional.Count}, duplicates 0, missing 0, dead letters 0", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Synth_ThenTrainThenEval_ReportsFinalAndInterpretabilityFigures()
    {
        var data = _dir.File("synth");
        var s = CliRunner.Run("synth", "--count", "10", "--seed", "3", "--out", data, "--test-fraction", "0.3");
        Assert.True(s.ExitCode == 0, s.Stderr);

        var train = ScoreLabels.ReadFile(Path.Combine(data, "train.txt"));
        var test = ScoreLabels.ReadFile(Path.Combine(data, "test.txt"));
        Assert.Equal(7, train.Count);
        Assert.Equal(3, test.Count);
        Assert.Empty(train.Select(l => l.Id).Intersect(test.Select(l => l.Id)));
        foreach (var label in train.Concat(test))
        {
            var truth = SyntheticTruth.Read(Path.Combine(data, "truth", label.Id + ".json"));
            var features = NpyReader.ReadFile(Path.Combine(data, "features", label.Id + ".npy"));
            Assert.Equal(truth.Clips.Count, features.Rows);
            Assert.Equal(198, features.Columns);
            Assert.InRange(Math.Abs(truth.JudgesScore - label.Tes), 0, 0.001);   // written with 3 decimals
            // The clip count follows from the performance's length: 32-frame clips at 25 fps.
            Assert.Equal((int)Math.Round(truth.DurationSeconds * 25) / 32, truth.Clips.Count);
            Assert.All(truth.Clips, c => Assert.InRange(c.Execution, 0, 1));
        }
        using (var info = JsonDocument.Parse(File.ReadAllText(Path.Combine(data, "dataset.json"))))
        {
            Assert.Equal("motion-appearance-v1", info.RootElement.GetProperty("extractor").GetString());
        }

        var model = _dir.File("m.safetensors");
        var t = CliRunner.Run("train", "--dataset", data, "--target", "TES", "--out", model, "--epochs", "2", "--batch-size", "4", "--model-dim", "16",
            "--layers", "1", "--heads", "2", "--max-queries", "40", "--folds", "3", "--train-length", "32", "--score-scale", "50");
        Assert.True(t.ExitCode == 0, t.Stderr);
        var json = _dir.File("eval.json");
        var e = CliRunner.Run("eval", "--checkpoint", model, "--dataset", data, "--json", json);
        Assert.True(e.ExitCode == 0, e.Stderr);
        Assert.Contains("weight~difficulty spearman", e.Stdout, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal(3, doc.RootElement.GetProperty("n").GetInt32());
        Assert.Equal(test.Sum(l => SyntheticTruth.Read(Path.Combine(data, "truth", l.Id + ".json")).Clips.Count), doc.RootElement.GetProperty("clips").GetInt32());
        Assert.InRange(doc.RootElement.GetProperty("weight_difficulty_spearman").GetDouble(), -1, 1);
        Assert.InRange(doc.RootElement.GetProperty("score_execution_spearman").GetDouble(), -1, 1);
    }

    [Fact]
    public async Task Encode_Cmaf_WritesDecodableChunksAndTruth()
    {
        var r = CliRunner.Run("encode", "--out", _dir.Path, "--seed", "5", "--size", "320x180", "--container", "cmaf");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var meta = JsonDocument.Parse(File.ReadAllText(_dir.File("chunks.json")));
        var truth = SyntheticTruth.Read(_dir.File("truth.json"));
        AssertClose.Equal(SyntheticProgram.Generate(5).JudgesScore(25), truth.JudgesScore, absolute: 1e-9, relative: 1e-9);
        Assert.Equal(SyntheticProgram.Generate(5).FrameCount(25) / 32, truth.Clips.Count);
        var init = File.ReadAllBytes(_dir.File("init.mp4"));
        using var decoder = new FfmpegChunkDecoder(new FrameSize(64, 36));
        var frames = 0;
        foreach (var chunk in meta.RootElement.GetProperty("chunks").EnumerateArray())
        {
            var bytes = File.ReadAllBytes(_dir.File(chunk.GetProperty("file").GetString()!));
            var expected = chunk.GetProperty("frames").GetInt32();
            frames += (await decoder.DecodeAsync(new EncodedChunk("cmaf", "h264", (byte[])[.. init, .. bytes], expected))).Count;
        }
        Assert.Equal(SyntheticProgram.Generate(5).FrameCount(25), frames);
    }

    [Fact]
    public void BenchIngest_SmallRun_PrintsPeerAndRows()
    {
        var r = CliRunner.Bench("ingest", "--size", "320x180", "--seconds", "4", "--start", "1", "--max-streams", "2");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("peer: bare ffmpeg", r.Stdout, StringComparison.Ordinal);
        // Correctness only: whether a step kept up depends on the machine's load; the figures stay in the benchmark.
        var rows = r.Stdout.Split('\n').Where(l => l.Length > 8 && char.IsDigit(l.TrimStart()[0])).ToList();
        Assert.InRange(rows.Count, 1, 2);   // 1, then 2 streams unless the first step missed its target
        var sustained = 0;
        foreach (var row in rows)
        {
            var f = row.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var streams = int.Parse(f[0], CultureInfo.InvariantCulture);
            var result = string.Join(' ', f[6..]);
            Assert.Contains(result, new[] { "ok", "p99 over target", "fell behind" });
            if (result != "fell behind") { Assert.Equal(streams * 2, int.Parse(f[1], CultureInfo.InvariantCulture)); }   // two chunks per stream
            Assert.True(double.Parse(f[4], CultureInfo.InvariantCulture) >= double.Parse(f[3], CultureInfo.InvariantCulture), row);
            if (result == "ok") { sustained = streams; }
        }
        Assert.Contains($"sustained: {sustained} live 320x180 streams", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Demo_OneAthlete_PrintsTheUrlsAndTokens_ScoresThePerformanceToTheEnd()
    {
        var model = Path.Combine(AqaStream.Tests.Shared.RepositoryRoot.Path, "models", "synth-demo.safetensors");
        var r = CliRunner.Run("demo", "--port", "0", "--count", "1", "--seed", "4", "--size", "320x180", "--speed", "4", "--checkpoint", model);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Matches(@"overlay:\s+http://127\.0\.0\.1:\d+/overlay", r.Stdout);
        Assert.Matches(@"tablet:\s+http://127\.0\.0\.1:\d+/tablet\s", r.Stdout);   // no token in the URL: the judge signs in
        Assert.Matches(@"standings:\s+http://127\.0\.0\.1:\d+/standings", r.Stdout);
        Assert.Matches(@"overlay token:  ey", r.Stdout);
        Assert.Matches(@"judge token:    ey", r.Stdout);
        Assert.Matches(@"operator token: ey", r.Stdout);
        Assert.DoesNotContain("not entered", r.Stdout, StringComparison.Ordinal);   // the panel score reached the board
        var program = SyntheticProgram.Generate(4);
        Assert.Contains($"{program.PerformanceId}: {program.Athlete} takes the ice", r.Stdout, StringComparison.Ordinal);
        // The final score came all the way through ingest, scorer and the delivery board.
        Assert.Matches($@"{program.PerformanceId}: model \d+\.\d\d \(final\), panel {program.JudgesScore(25).ToString("F2", CultureInfo.InvariantCulture)}", r.Stdout);
        Assert.Contains("rejected 0", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Synth_BadSize_OneLineError()
    {
        var r = CliRunner.Run("synth", "--count", "3", "--out", _dir.File("x"), "--size", "huge");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("error: 'huge' is not a frame size", r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Stderr, StringComparison.Ordinal);
    }
}
