using AqaStream.Pipeline.Bus;
using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace AqaStream.Kafka;

/// <summary>Checks (or creates) the pipeline's topics before anything is produced or consumed.</summary>
public static class KafkaTopics
{
    /// <summary>The keyed topics whose partition numbers must agree (a stage reads back partition p of its output for
    /// partition p of its input).</summary>
    public static IReadOnlyList<string> Keyed { get; } =
        [Topics.VideoChunks.Name, Topics.ClipFeatures.Name, Topics.ClipScored.Name];

    /// <summary>Waits for the cluster, then checks the topics (see <see cref="KafkaBus.ConnectAsync"/>).</summary>
    public static async Task EnsureAsync(KafkaBusOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var config = new AdminClientConfig(KafkaBus.Common(options, "admin"));
        KafkaBus.Override(config, options);
        using var admin = new AdminClientBuilder(config).Build();
        var metadata = await WaitForClusterAsync(admin, options, cancellationToken).ConfigureAwait(false);
        var existing = metadata.Topics.Where(t => !t.Error.IsError).ToDictionary(t => t.Topic, t => t.Partitions.Count, StringComparer.Ordinal);
        var missing = Topics.All.Where(t => !existing.ContainsKey(t)).ToArray();
        if (missing.Length > 0)
        {
            if (!options.CreateTopics)
            {
                throw new InvalidOperationException($"Kafka at {options.BootstrapServers} lacks topic(s) {string.Join(", ", missing)}: create them "
                    + "(deploy/create-topics.sh, or the compose file's topics service) or set Kafka:CreateTopics=true.");
            }
            await admin.CreateTopicsAsync(missing.Select(t => new TopicSpecification
            {
                Name = t,
                NumPartitions = options.Partitions,
                ReplicationFactor = options.ReplicationFactor,
                Configs = new Dictionary<string, string> { ["max.message.bytes"] = (options.MaxMessageBytes + 64 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture) },
            })).ConfigureAwait(false);
            options.Logger.TopicsCreated(string.Join(", ", missing), options.Partitions);
            foreach (var t in missing) { existing[t] = options.Partitions; }
        }
        var counts = Keyed.Select(t => (Topic: t, Partitions: existing[t])).ToArray();
        if (counts.Select(c => c.Partitions).Distinct().Count() > 1)
        {
            throw new InvalidOperationException("The keyed topics must have one partition count (a performance keeps its partition number from topic to topic): "
                + string.Join(", ", counts.Select(c => $"{c.Topic} {c.Partitions}")) + ".");
        }
    }

    private static async Task<Metadata> WaitForClusterAsync(IAdminClient admin, KafkaBusOptions options, CancellationToken cancellationToken)
    {
        var deadline = options.Clock.GetUtcNow() + options.StartupTimeout;
        var delay = TimeSpan.FromMilliseconds(250);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var metadata = admin.GetMetadata(TimeSpan.FromSeconds(Math.Clamp((deadline - options.Clock.GetUtcNow()).TotalSeconds / 3, 0.5, 5)));
                if (metadata.Brokers.Count > 0) { return metadata; }
                throw new KafkaException(new Error(ErrorCode.Local_AllBrokersDown, "no brokers in the metadata"));
            }
            catch (KafkaException e)
            {
                if (options.Clock.GetUtcNow() >= deadline)
                {
                    throw new InvalidOperationException($"Kafka at {options.BootstrapServers} is unreachable after {options.StartupTimeout.TotalSeconds:F0} s "
                        + $"({attempt} attempts): {e.Error.Reason}. Check Kafka:BootstrapServers (--bootstrap) and that the brokers are up.", e);
                }
                options.Logger.Unreachable(options.BootstrapServers, e.Error.Reason, attempt);
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
        }
    }
}
