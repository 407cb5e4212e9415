using System.Diagnostics;
using AqaStream.Kafka;
using AqaStream.Pipeline.Bus;

namespace AqaStream.Tests.Shared;

/// <summary>A 3-broker librdkafka mock cluster with the pipeline's topics (4 partitions), for one test class or
/// collection; plus kcat, the independent client.</summary>
public sealed class MockKafka : IDisposable
{
    public const int Partitions = 4;

    public MockKafka()
    {
        Cluster = new KafkaMockCluster(3);
        foreach (var topic in Topics.All) { Cluster.CreateTopic(topic, Partitions); }
    }

    public KafkaMockCluster Cluster { get; }

    public string Bootstrap => Cluster.BootstrapServers;

    public KafkaBusOptions Options(Microsoft.Extensions.Logging.ILogger? logger = null) => new()
    {
        BootstrapServers = Bootstrap,
        CommitInterval = TimeSpan.FromMilliseconds(100),
        StartupTimeout = TimeSpan.FromSeconds(20),
        Settings = new Dictionary<string, string> { ["session.timeout.ms"] = "6000", ["log_level"] = "2" },
        Logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance,
    };

    /// <summary>Reads a topic to its current end with kcat; each record formatted by <paramref name="format"/> (kcat -f).</summary>
    public string[] Kcat(string topic, string format = "%s\\n")
    {
        var psi = new ProcessStartInfo("kcat") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-b", Bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", format }) { psi.ArgumentList.Add(a); }
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("kcat did not start (install kcat: tools/setup.sh --with-kafka-tools).");
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(60_000)) { p.Kill(); throw new TimeoutException("kcat did not finish in 60 s."); }
        if (p.ExitCode != 0) { throw new InvalidOperationException($"kcat failed ({p.ExitCode}): {err.Result}"); }
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    public void Dispose() => Cluster.Dispose();
}
