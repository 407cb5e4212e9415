using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace AqaStream.Cli;

/// <summary>
/// The CLI process's logging (Microsoft.Extensions.Logging, simple console, one line per entry, on stderr so stdout
/// keeps the command's output): AqaStream's own categories at Information, everything else at Warning; the
/// <c>Logging</c> configuration section overrides (<c>AQA_Logging__LogLevel__AqaStream.Kafka=Warning</c>, or the
/// same key in a <c>--config</c> file). Created on first use; flushed and released when the command ends.
/// </summary>
internal static class AqaLogging
{
    private static readonly Lazy<ILoggerFactory> s_factory = new(() => Create(new ConfigurationBuilder().AddEnvironmentVariables("AQA_").Build()));

    /// <summary>A logger of <paramref name="category"/> in this process's factory.</summary>
    public static ILogger For(string category) => s_factory.Value.CreateLogger(category);

    /// <summary>The same console settings applied to a host's logging builder (AqaHost's non-web hosts).</summary>
    public static void Configure(ILoggingBuilder logging, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(logging);
        logging.SetMinimumLevel(LogLevel.Warning)
            .AddFilter("AqaStream", LogLevel.Information)
            .AddConfiguration(configuration.GetSection("Logging"))
            .AddSimpleConsole(o => o.SingleLine = true)
            .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
    }

    /// <summary>Flushes the console logger (its queue is written by a background thread).</summary>
    public static void Shutdown()
    {
        if (s_factory.IsValueCreated) { s_factory.Value.Dispose(); }
    }

    private static ILoggerFactory Create(IConfiguration configuration) => LoggerFactory.Create(b => Configure(b, configuration));
}
