using AqaStream.Pipeline.Bus;
using AqaStream.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;

namespace AqaStream.Server;

/// <summary>
/// What every role of the system exports: the AqaStream meter as Prometheus text at <c>/metrics</c> (OpenTelemetry),
/// <c>/health/live</c> (the process answers) and <c>/health/ready</c> (the bus's brokers answer; a model is loaded
/// where the process scores or delivers). The web host maps them beside its API; ingest and scorer processes get a
/// listener of their own (<see cref="BuildHost"/>).
/// </summary>
public static class AqaObservability
{
    /// <summary>Health checks of <c>/health/live</c>.</summary>
    public const string LiveTag = "live";

    /// <summary>Health checks of <c>/health/ready</c>.</summary>
    public const string ReadyTag = "ready";

    /// <summary>Adds the meter's exporter and the health checks (<paramref name="withModel"/>: also "a model is in use").</summary>
    public static IHealthChecksBuilder AddAqaObservability(this IServiceCollection services, bool withModel)
    {
        var checks = services.AddHealthChecks()
            .AddCheck("process", () => HealthCheckResult.Healthy("running"), tags: [LiveTag])
            .AddCheck<BusHealth>("bus", tags: [ReadyTag]);
        if (withModel) { checks.AddCheck<ModelHealth>("model", tags: [ReadyTag]); }
        services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(Pipeline.Telemetry.AqaMetrics.MeterName).AddPrometheusExporter());
        return checks;
    }

    /// <summary>Maps <c>/health</c>, <c>/health/live</c>, <c>/health/ready</c> and <c>/metrics</c> (all open: scraped
    /// from inside the deployment).</summary>
    public static IEndpointRouteBuilder MapAqaObservability(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/health");
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = c => c.Tags.Contains(LiveTag) });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains(ReadyTag) });
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }

    /// <summary>A host for a process without the web box (ingest, scorer): only the observability endpoints, on
    /// <paramref name="url"/>; <paramref name="configureServices"/> adds the process's boxes.</summary>
    public static WebApplication BuildHost(string url, IMessageBus bus, ModelRegistry? models, IReadOnlyDictionary<string, string?> settings,
        Action<ILoggingBuilder, IConfiguration>? configureLogging, Action<IServiceCollection> configureServices)
    {
        ArgumentNullException.ThrowIfNull(configureServices);
        var builder = CreateBuilder(url, bus, settings, configureLogging);
        if (models is not null) { builder.Services.AddSingleton(models); }
        builder.Services.AddAqaObservability(withModel: models is not null);
        configureServices(builder.Services);
        var app = builder.Build();
        app.MapAqaObservability();
        return app;
    }

    /// <summary>The common start of every HTTP host of the system: Kestrel on <paramref name="url"/>, configuration
    /// (Warning by default, then <paramref name="settings"/>), the bus, and the logging the process chose
    /// (<paramref name="configureLogging"/>; null: one-line console entries).</summary>
    internal static WebApplicationBuilder CreateBuilder(string url, IMessageBus bus, IReadOnlyDictionary<string, string?>? settings,
        Action<ILoggingBuilder, IConfiguration>? configureLogging)
    {
        ArgumentNullException.ThrowIfNull(bus);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Warning" });
        if (settings is not null) { builder.Configuration.AddInMemoryCollection(settings); }
        builder.WebHost.UseUrls(url);
        if (configureLogging is null) { builder.Logging.AddSimpleConsole(o => o.SingleLine = true); }
        else
        {
            builder.Logging.ClearProviders();
            configureLogging(builder.Logging, builder.Configuration);
        }
        builder.Services.AddSingleton(bus);
        return builder;
    }
}

/// <summary>Ready only while the bus's brokers answer.</summary>
internal sealed class BusHealth(IMessageBus bus) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        bus is IBusHealth health && await health.ProblemAsync(cancellationToken).ConfigureAwait(false) is { } problem
            ? HealthCheckResult.Unhealthy(problem)
            : HealthCheckResult.Healthy(bus is IBusHealth ? "brokers answer" : "in-memory bus");
}

/// <summary>Ready only with a model in use for some target.</summary>
internal sealed class ModelHealth(ModelRegistry models) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var inUse = models.Current();
        return Task.FromResult(inUse.Count > 0
            ? HealthCheckResult.Healthy(string.Join(", ", inUse.Select(m => $"{m.Target}: {m.Name} ({m.Mode})")))
            : HealthCheckResult.Unhealthy("no model loaded"));
    }
}
