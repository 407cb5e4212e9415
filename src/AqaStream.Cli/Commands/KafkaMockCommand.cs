using System.CommandLine;
using System.Runtime.InteropServices;
using AqaStream.Kafka;
using AqaStream.Pipeline.Bus;

namespace AqaStream.Cli.Commands;

/// <summary><c>aqa kafka-mock</c>: librdkafka's mock cluster with the pipeline's topics, for development without a
/// broker (it keeps about 5 MiB per partition: not for long streams of video).</summary>
internal static class KafkaMockCommand
{
    public static Command Create()
    {
        var brokers = new Option<int>("--brokers") { Description = "Brokers in the cluster.", DefaultValueFactory = _ => 3 };
        var partitions = new Option<int>("--partitions") { Description = "Partitions of every pipeline topic.", DefaultValueFactory = _ => Topics.DefaultPartitions };
        var cmd = new Command("kafka-mock", "Run librdkafka's mock Kafka cluster (real Kafka protocol on loopback ports) with the pipeline's topics; "
            + "prints the bootstrap servers and runs until Ctrl+C.")
        {
            brokers, partitions,
        };
        cmd.SetAction((r, ct) => Task.FromResult(AqaApp.Guarded(() =>
        {
            if (r.GetValue(brokers) < 1 || r.GetValue(partitions) < 1) { throw new ArgumentException("--brokers and --partitions must be at least 1."); }
            using var cluster = new KafkaMockCluster(r.GetValue(brokers));
            foreach (var topic in Topics.All) { cluster.CreateTopic(topic, r.GetValue(partitions)); }
            Console.WriteLine($"bootstrap: {cluster.BootstrapServers}");
            Console.WriteLine($"topics: {string.Join(", ", Topics.All)} ({r.GetValue(partitions)} partitions each)");
            Console.Out.Flush();
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
            using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
            stop.Token.WaitHandle.WaitOne();
            return 0;
        })));
        return cmd;
    }
}
