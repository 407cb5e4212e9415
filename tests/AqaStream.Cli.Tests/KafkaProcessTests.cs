using System.Text.Json;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;
using Xunit;
using AqaStream.Tests.Shared;

namespace AqaStream.Cli.Tests;

/// <summary>Our processes and kcat around one mock Kafka cluster (a real Kafka-protocol endpoint).</summary>
[Collection("kafka-processes")]
public sealed class KafkaProcessTests : IClassFixture<MockKafka>, IDisposable
{
    private readonly MockKafka _kafka;
    private readonly TempDirectory _dir = new();

    public KafkaProcessTests(MockKafka kafka) => _kafka = kafka;

    public void Dispose() => _dir.Dispose();

    private static double Sample(string metrics, string name)
    {
        var m = System.Text.RegularExpressions.Regex.Match(metrics, "^" + name + @"(\{[^}]*\})? (?<v>[0-9.eE+-]+)", System.Text.RegularExpressions.RegexOptions.Multiline);
        return m.Success ? double.Parse(m.Groups["v"].Value, System.Globalization.CultureInfo.InvariantCulture) : -1;
    }

    private static string Model => Path.Combine(RepositoryRoot.Path, "models", "synth-demo.safetensors");

    /// <summary>Everything on the scorer's output topic, read by kcat (the wire form, not our consumer).</summary>
    private List<ClipScored> Scored() => [.. _kafka.Kcat(Topics.ClipScored.Name).Select(MessageJson.Deserialize<ClipScored>)];

    [Fact]
    public async Task Encoder_Kafka_ServeProcess_ResultsReadBackByKcat_MetricsAndHealthOnTheRoleWithoutWeb()
    {
        using var serve = CliRunner.Start("serve", "--roles", "ingest,scorer", "--bootstrap", _kafka.Bootstrap, "--checkpoint", Model, "--lanes", "1", "--metrics-port", "0");
        serve.WaitFor("ready:", TimeSpan.FromSeconds(60));
        var metricsLine = serve.Output.Split('\n').Single(l => l.StartsWith("metrics: ", StringComparison.Ordinal));
        using var http = new HttpClient { BaseAddress = new Uri(metricsLine.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) };
        var encode = CliRunner.Run("encode", "--publish", "--bus", "kafka", "--bootstrap", _kafka.Bootstrap, "--seed", "6", "--size", "320x180",
            "--speed", "8", "--run", "xproc");
        Assert.True(encode.ExitCode == 0, encode.Stderr);
        var id = encode.Stdout.Split(':')[0];
        Assert.EndsWith("-xproc", id, StringComparison.Ordinal);

        ProvisionalScore? final = null;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (final is null && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(1000);
            final = Scored().Select(s => s.Provisional)
                .FirstOrDefault(p => p.PerformanceId == id && p.Final);
        }
        Assert.True(final is not null, "no final score from the serve process; its output:\n" + serve.Output);
        var clips = Scored().Select(s => s.Clip).OfType<ClipScore>().Where(c => c.PerformanceId == id).ToList();
        var features = _kafka.Kcat(Topics.ClipFeatures.Name).Select(MessageJson.Deserialize<PerformanceMessage>).OfType<ClipFeatures>().Count(c => c.PerformanceId == id);
        Assert.Equal(final.ClipsSeen, clips.Count);
        Assert.Equal(features, clips.Count);
        Assert.Equal(Enumerable.Range(0, clips.Count), clips.Select(c => c.ClipIndex).Order());
        AssertClose.Equal(final.Total, final.Breakdown!.Sum(b => b.Contribution), absolute: 1e-4, relative: 1e-4);   // float32 model, summed in another order

        // The ingest+scorer process (no web box) exports its instruments and health on its own listener.
        var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        Assert.Equal(System.Net.HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("Healthy", await ready.Content.ReadAsStringAsync());
        string metrics;
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        do
        {
            metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));   // the exporter caches a scrape briefly
            if (Sample(metrics, "aqa_scorer_clips_total") >= clips.Count && metrics.Contains("aqa_kafka_consumer_lag", StringComparison.Ordinal)) { break; }
            await Task.Delay(500);
        }
        while (DateTime.UtcNow < until);
        Assert.True(Sample(metrics, "aqa_scorer_clips_total") >= clips.Count, metrics);
        Assert.True(Sample(metrics, "aqa_ingest_clips_total") >= clips.Count, metrics);
        // Everything published was read: the scorer's and the ingest's groups are at the end of their topics.
        Assert.Matches(@"aqa_kafka_consumer_lag(_records)?\{[^}]*topic=""aqa.clip-features""[^}]*\} 0", metrics);
        Assert.Equal(0, serve.Stop());
        Assert.Contains("scorer: ", serve.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void CrashSoak_ScorerKilledMidPerformance_NothingLostNothingDoubled()
    {
        var json = _dir.File("crash.json");
        var r = CliRunner.Bench("crash", "--runs", "2", "--performances", "3", "--clips", "30", "--seed", "7", "--bootstrap", _kafka.Bootstrap,
            "--checkpoint", Model, "--json", json);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        Assert.Equal(2, root.GetProperty("Kills").GetInt32());
        Assert.Equal(180, root.GetProperty("ClipResults").GetInt32());
        Assert.Equal(0, root.GetProperty("Lost").GetInt32());
        Assert.Equal(0, root.GetProperty("Duplicated").GetInt32());
        Assert.Equal(0, root.GetProperty("Mismatched").GetInt32());
        Assert.Equal(6, root.GetProperty("FinalsEqual").GetInt32());

        // kcat, reading the result topic on its own: every clip of every soak performance exactly once, one final each.
        var clips = Scored().Select(s => s.Clip).OfType<ClipScore>()
            .Where(c => c.PerformanceId.StartsWith("soak-", StringComparison.Ordinal)).ToList();
        Assert.Equal(180, clips.Count);
        Assert.Equal(180, clips.Select(c => (c.PerformanceId, c.ClipIndex)).Distinct().Count());
        var finals = Scored().Select(s => s.Provisional)
            .Where(p => p.Final && p.PerformanceId.StartsWith("soak-", StringComparison.Ordinal)).ToList();
        Assert.Equal(6, finals.Count);
        Assert.Equal(6, finals.Select(f => f.PerformanceId).Distinct().Count());
    }

    [Fact]
    public void CrashSoak_WithABrokerDownAndUpDuringThePerformance_NothingLostNothingDoubled()
    {
        var json = _dir.File("bounce.json");
        var r = CliRunner.Bench("crash", "--runs", "1", "--performances", "3", "--clips", "30", "--seed", "8", "--broker-bounce", "--checkpoint", Model, "--json", json);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal(0, doc.RootElement.GetProperty("Lost").GetInt32());
        Assert.Equal(0, doc.RootElement.GetProperty("Duplicated").GetInt32());
        Assert.Equal(3, doc.RootElement.GetProperty("FinalsEqual").GetInt32());
        Assert.Contains("broker 2 bounced", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Serve_UnreachableKafka_ClearErrorNotAHang()
    {
        var r = CliRunner.Run("serve", "--roles", "scorer", "--bootstrap", "127.0.0.1:1", "--checkpoint", Model, "--kafka-setting", "socket.timeout.ms=1000",
            "--config", WriteConfig("""{ "Kafka": { "StartupTimeoutSeconds": 3 } }"""));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("error: Kafka at 127.0.0.1:1 is unreachable after 3 s", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("retrying", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DockerCompose_FileIsValid_AndDeclaresTheServices()
    {
        var psi = new System.Diagnostics.ProcessStartInfo("docker-compose") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepositoryRoot.Path };
        foreach (var a in new[] { "-f", "docker-compose.yml", "config" }) { psi.ArgumentList.Add(a); }
        using var p = System.Diagnostics.Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, await err);
        foreach (var service in new[] { "kafka:", "topics:", "ingest:", "scorer:", "web:" }) { Assert.Contains("  " + service, output, StringComparison.Ordinal); }
        Assert.Contains("KAFKA_PROCESS_ROLES: broker,controller", output, StringComparison.Ordinal);
        foreach (var topic in Topics.All) { Assert.Contains(topic, output, StringComparison.Ordinal); }
        Assert.Contains("MAX_MESSAGE_BYTES: '8388608'", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_FromAKafkaTopic_FromTheBeginning_ScoresTheArchivedPerformances()
    {
        var model = Pipeline.Live.ScoringModel.Load(Model);
        var dim = model.Scorer.FeatureDim;
        var ids = new[] { $"archived-{Guid.NewGuid():N}"[..20], $"archived-{Guid.NewGuid():N}"[..20] };
        await using (var bus = await Kafka.KafkaBus.ConnectAsync(_kafka.Options()))
        {
            var producer = bus.Producer(Topics.ClipFeatures);
            var rng = new Random(3);
            foreach (var id in ids)
            {
                await producer.ProduceAsync(id, new PerformanceStarted(id, "A", "synthetic", "free-skating", model.Card.Target, DateTimeOffset.UtcNow, "Worlds 2026"));
                for (var c = 0; c < 6; c++) { await producer.ProduceAsync(id, new ClipFeatures(id, c, c * 1.28, (c + 1) * 1.28, Enumerable.Range(0, dim).Select(_ => (float)rng.NextDouble()).ToArray())); }
                await producer.ProduceAsync(id, new PerformanceEnded(id, DateTimeOffset.UtcNow, 6));
            }
            bus.Flush();
        }
        File.WriteAllLines(_dir.File("ids.txt"), ids);
        var report = _dir.File("report");
        var r = CliRunner.Run("replay", "--bus", "kafka", "--bootstrap", _kafka.Bootstrap, "--topic", Topics.ClipFeatures.Name, "--from-beginning",
            "--ids", _dir.File("ids.txt"), "--checkpoint", Model, "--report", report);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("replayed 2 performances, 12 clips", r.Stdout, StringComparison.Ordinal);
        var json = File.ReadAllText(Path.Combine(report, "report.json"));
        Assert.All(ids, id => Assert.Contains(id, json, StringComparison.Ordinal));
        // The competition each archived performance started in comes with it (the report ranks within competitions).
        Assert.All(System.Text.Json.JsonDocument.Parse(json).RootElement.GetProperty("timelines").EnumerateArray(),
            t => Assert.Equal("Worlds 2026", t.GetProperty("competition").GetString()));

        var missing = CliRunner.Run("replay", "--bus", "kafka", "--bootstrap", _kafka.Bootstrap, "--checkpoint", Model, "--report", report);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("give --from-beginning or --since", missing.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TwoScorerProcesses_ShareThePartitions_EveryClipScoredOnce()
    {
        var model = Pipeline.Live.ScoringModel.Load(Model);
        var dim = model.Scorer.FeatureDim;
        var group = "aqa-scorer-" + Guid.NewGuid().ToString("N")[..8];
        // The idle timeout is raised far above the test's length: the mock cluster's rebalance can hold a partition's
        // records back for tens of seconds on a loaded machine, and a performance must not close as idle meanwhile.
        string[] scorer = ["serve", "--roles", "scorer", "--bootstrap", _kafka.Bootstrap, "--checkpoint", Model, "--lanes", "1", "--group", group, "--idle-timeout-s", "600"];
        using var first = CliRunner.Start(scorer);
        first.WaitFor("ready:", TimeSpan.FromSeconds(60));
        first.WaitFor("kafka: " + group + " took", TimeSpan.FromSeconds(30));
        var ids = Enumerable.Range(0, 8).Select(i => $"shared-{group[^8..]}-{i}").ToArray();
        RunningCli? second = null;
        try
        {
            await using (var bus = await Kafka.KafkaBus.ConnectAsync(_kafka.Options()))
            {
                var producer = bus.Producer(Topics.ClipFeatures);
                var rng = new Random(4);
                foreach (var id in ids) { await producer.ProduceAsync(id, new PerformanceStarted(id, "A", "synthetic", "free-skating", model.Card.Target, DateTimeOffset.UtcNow)); }
                for (var c = 0; c < 20; c++)
                {
                    if (c == 10)
                    {
                        // Mid-performance, a second scorer joins the group and takes its share of the partitions.
                        second = CliRunner.Start(scorer);
                        second.WaitFor(new System.Text.RegularExpressions.Regex(" took aqa\\.clip-features \\[\\d"), TimeSpan.FromSeconds(90));   // not the empty first round
                    }
                    foreach (var id in ids) { await producer.ProduceAsync(id, new ClipFeatures(id, c, c * 1.28, (c + 1) * 1.28, Enumerable.Range(0, dim).Select(_ => (float)rng.NextDouble()).ToArray())); }
                    bus.Flush();
                    await Task.Delay(100);
                }
                foreach (var id in ids) { await producer.ProduceAsync(id, new PerformanceEnded(id, DateTimeOffset.UtcNow, 20)); }
                bus.Flush();
            }
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            List<ProvisionalScore> finals = [];
            while (DateTime.UtcNow < deadline)
            {
                finals = Scored().Select(s => s.Provisional).Where(p => p.Final && ids.Contains(p.PerformanceId)).ToList();
                if (finals.Count >= ids.Length) { break; }
                await Task.Delay(1000);
            }
            Assert.True(finals.Count == ids.Length, $"{finals.Count} finals; first:\n{first.Output}\nsecond:\n{second!.Output}");
            Assert.True(finals.All(f => f.ClipsSeen == 20 && f.CloseReason == CloseReason.Ended),
                $"finals: {string.Join(", ", finals.Select(f => $"{f.PerformanceId} {f.ClipsSeen} clips {f.CloseReason}"))}\nfirst:\n{first.Output}\nsecond:\n{second!.Output}");
            var clips = Scored().Select(s => s.Clip).OfType<ClipScore>().Where(c => ids.Contains(c.PerformanceId)).ToList();
            Assert.Equal(160, clips.Count);
            Assert.Equal(160, clips.Select(c => (c.PerformanceId, c.ClipIndex)).Distinct().Count());
            // The second took partitions (waited for above); the first gave some up (librdkafka's mock cluster answers the
            // cooperative rebalance by fencing the first member: it loses all, then takes its share back).
            Assert.True(first.Output.Contains("revoked", StringComparison.Ordinal) || first.Output.Contains("lost", StringComparison.Ordinal),
                "first:\n" + first.Output + "\nsecond:\n" + second!.Output);
            Assert.Equal(0, first.Stop());
            Assert.Equal(0, second.Stop());
        }
        finally
        {
            second?.Dispose();
        }
    }

    private string WriteConfig(string json)
    {
        var path = _dir.File("settings.json");
        File.WriteAllText(path, json);
        return path;
    }
}
