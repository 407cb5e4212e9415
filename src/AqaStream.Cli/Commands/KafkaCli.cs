using System.CommandLine;
using System.Globalization;
using AqaStream.Kafka;
using AqaStream.Pipeline.Bus;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace AqaStream.Cli.Commands;

/// <summary>
/// The bus options every bus-facing command shares: <c>--bus memory|kafka</c>, <c>--bootstrap</c>,
/// <c>--kafka-setting key=value</c> and <c>--config FILE</c>. Kafka settings come, later ones winning, from the
/// <c>Kafka</c> section of the config file, then <c>AQA_</c> environment variables (<c>AQA_Kafka__BootstrapServers</c>,
/// <c>AQA_Kafka__Settings__sasl.mechanism</c>), then the command line.
/// </summary>
internal sealed class KafkaCli
{
    public Option<string> Bus { get; } = new("--bus") { Description = "memory (in this process) or kafka.", DefaultValueFactory = _ => "memory" };

    public Option<string?> Bootstrap { get; } = new("--bootstrap") { Description = "Kafka brokers, HOST:PORT[,HOST:PORT] (default: Kafka:BootstrapServers, else localhost:9092)." };

    public Option<string[]> Settings { get; } = new("--kafka-setting")
    {
        Description = "Any librdkafka setting as KEY=VALUE (repeatable), e.g. security.protocol=SASL_SSL.",
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<FileInfo?> Config { get; } = new("--config") { Description = "JSON settings file (sections Kafka, Auth, Delivery)." };

    public KafkaCli(string defaultBus = "memory")
    {
        Bus.DefaultValueFactory = _ => defaultBus;
        Bus.AcceptOnlyFromAmong("memory", "kafka");
    }

    public void AddTo(Command command)
    {
        command.Options.Add(Bus);
        command.Options.Add(Bootstrap);
        command.Options.Add(Settings);
        command.Options.Add(Config);
    }

    public bool IsKafka(ParseResult r) => r.GetValue(Bus) == "kafka";

    /// <summary>The merged configuration (file, environment, command line).</summary>
    public IConfiguration Configuration(ParseResult r)
    {
        var builder = new ConfigurationBuilder();
        if (r.GetValue(Config) is { } file)
        {
            builder.AddJsonFile(CommonOptions.ExistingFile(file, "config file"), optional: false);
        }
        builder.AddEnvironmentVariables("AQA_");
        var overrides = new Dictionary<string, string?>();
        if (r.GetValue(Bootstrap) is { Length: > 0 } bootstrap) { overrides["Kafka:BootstrapServers"] = bootstrap; }
        foreach (var setting in r.GetValue(Settings) ?? [])
        {
            var eq = setting.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) { throw new ArgumentException($"--kafka-setting '{setting}' is not KEY=VALUE."); }
            overrides[$"Kafka:Settings:{setting[..eq]}"] = setting[(eq + 1)..];
        }
        builder.AddInMemoryCollection(overrides);
        return builder.Build();
    }

    /// <summary>Kafka options from the configuration's <c>Kafka</c> section.</summary>
    public static KafkaBusOptions Options(IConfiguration configuration, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var k = configuration.GetSection("Kafka");
        var defaults = new KafkaBusOptions();
        return new KafkaBusOptions
        {
            BootstrapServers = k["BootstrapServers"] ?? defaults.BootstrapServers,
            Settings = k.GetSection("Settings").GetChildren().Where(c => c.Value is not null).ToDictionary(c => c.Key, c => c.Value!, StringComparer.Ordinal),
            MaxMessageBytes = Int(k, "MaxMessageBytes", defaults.MaxMessageBytes),
            ClaimCheckDirectory = k["ClaimCheckDirectory"],
            CommitInterval = TimeSpan.FromMilliseconds(Int(k, "CommitIntervalMs", (int)defaults.CommitInterval.TotalMilliseconds)),
            StartupTimeout = TimeSpan.FromSeconds(Int(k, "StartupTimeoutSeconds", (int)defaults.StartupTimeout.TotalSeconds)),
            CreateTopics = bool.TryParse(k["CreateTopics"], out var create) && create,
            Partitions = Int(k, "Partitions", defaults.Partitions),
            ReplicationFactor = (short)Int(k, "ReplicationFactor", defaults.ReplicationFactor),
            ClientId = k["ClientId"] ?? defaults.ClientId,
            Logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance,
        }.Validated();
    }

    /// <summary>The bus the command asked for: a new in-memory bus, or a connected Kafka bus.</summary>
    public async Task<IMessageBus> ConnectAsync(ParseResult r, CancellationToken cancellationToken)
    {
        if (!IsKafka(r)) { return new InMemoryBus(); }
        var logger = AqaLogging.For("AqaStream.Kafka");
        var options = Options(Configuration(r), logger);
        logger.LogInformation("kafka: connecting to {Bootstrap}", options.BootstrapServers);
        return await KafkaBus.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
    }

    private static int Int(IConfiguration section, string key, int fallback) =>
        section[key] is { Length: > 0 } text
            ? int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : throw new ArgumentException($"Kafka:{key} '{text}' is not a whole number.")
            : fallback;
}
