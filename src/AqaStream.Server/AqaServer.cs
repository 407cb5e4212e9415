using AqaStream.Pipeline.Bus;
using AqaStream.Server.Api;
using AqaStream.Server.Auth;
using AqaStream.Server.Delivery;
using AqaStream.Server.Hosting;
using AqaStream.Server.Hubs;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AqaStream.Server;

/// <summary>
/// Composes the delivery host (ASP.NET Core): the board and fan-out, the bus bridge, the SignalR hub, REST, pages and
/// authentication, over a bus the caller owns (in-memory in the demo, Kafka in deployment) and the caller's models.
/// Settings come from configuration (<c>Delivery</c>, <c>Auth</c> sections; <c>Logging</c>), overridable by
/// <paramref name="settings"/>.
/// </summary>
public static class AqaServer
{
    /// <summary>Builds the host listening on <paramref name="url"/> (port 0 picks a free one: see <see cref="BoundUrl"/>).
    /// <paramref name="configureServices"/> adds the other boxes of the process (the composition root's hosted services);
    /// <paramref name="configureLogging"/> is the process's logging (null: one-line console entries).</summary>
    public static WebApplication Build(string url, IMessageBus bus, ModelRegistry models, IReadOnlyDictionary<string, string?>? settings = null,
        TimeProvider? clock = null, Action<IServiceCollection>? configureServices = null, Action<ILoggingBuilder, IConfiguration>? configureLogging = null)
    {
        ArgumentNullException.ThrowIfNull(models);
        var builder = AqaObservability.CreateBuilder(url, bus, settings, configureLogging);
        // SignalR's dispatcher logs a client's bad call (a HubException) with a stack trace; HubErrorLog reports those
        // as one warning line and real failures with their trace instead.
        builder.Logging.AddFilter(HubErrorLog.DispatcherCategory, LogLevel.None);

        var services = builder.Services;
        services.Configure<DeliveryOptions>(builder.Configuration.GetSection(DeliveryOptions.Section));
        services.Configure<AuthOptions>(builder.Configuration.GetSection(AuthOptions.Section));
        // Nothing here encrypts data at rest (bearer tokens are validated, not cookies): keys in memory, no warning.
        services.AddDataProtection().UseEphemeralDataProtectionProvider();
        services.AddSingleton(clock ?? TimeProvider.System);
        services.AddSingleton(models);
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<DeliveryOptions>>().Value);
        services.AddSingleton<PerformanceBoard>();
        services.AddSingleton<IPushSender, SignalRPushSender>();
        services.AddSingleton<ScoreFanOut>();
        services.AddSingleton<PerformanceControl>();
        services.AddSingleton<TokenService>();
        services.AddHostedService<DeliveryBridge>();
        configureServices?.Invoke(services);

        var delivery = builder.Configuration.GetSection(DeliveryOptions.Section).Get<DeliveryOptions>() ?? new DeliveryOptions();
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = delivery.MaxRequestBodyBytes);
        services.AddSignalR(o =>
        {
            o.AddFilter<HubErrorLog>();
            o.MaximumReceiveMessageSize = delivery.MaxClientMessageBytes;
            o.EnableDetailedErrors = false;   // HubException messages still reach the caller; internals do not
        });
        services.AddSingleton<ScoreHubLifetimeManager>();
        services.AddSingleton<HubLifetimeManager<ScoreHub>>(sp => sp.GetRequiredService<ScoreHubLifetimeManager>());
        services.AddAqaAuthentication();
        services.AddAuthorizationBuilder()
            .AddPolicy(AqaRoles.ResultsPolicy, p => p.RequireRole(AqaRoles.Public, AqaRoles.Overlay, AqaRoles.Judge, AqaRoles.Operator))
            .AddPolicy(AqaRoles.JudgePolicy, p => p.RequireRole(AqaRoles.Judge, AqaRoles.Operator))
            .AddPolicy(AqaRoles.OperatorPolicy, p => p.RequireRole(AqaRoles.Operator));
        services.AddAqaObservability(withModel: true).AddCheck<DeliveryHealth>("delivery", tags: [ReadyTag]);

        var app = builder.Build();
        // Every 4xx and 5xx has a JSON body: failures inside the server become a problem (logged once, with the trace),
        // and statuses answered without a body (405, a route that does not exist, ...) get one.
        app.UseExceptionHandler(errors => errors.Run(context =>
        {
            var failure = context.Features.Get<Microsoft.AspNetCore.Diagnostics.IExceptionHandlerFeature>()?.Error;
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("AqaStream.Server.Api")
                .LogError(failure, "{Method} {Path} failed", context.Request.Method, context.Request.Path);
            return ApiProblem.WriteAsync(context, StatusCodes.Status500InternalServerError, "the server failed on this request (it is logged); try again.");
        }));
        app.UseStatusCodePages(context =>
        {
            var response = context.HttpContext.Response;
            return ApiProblem.WriteAsync(context.HttpContext, response.StatusCode, response.StatusCode switch
            {
                StatusCodes.Status404NotFound => $"nothing at {context.HttpContext.Request.Path}: see the README's REST list.",
                StatusCodes.Status405MethodNotAllowed => $"{context.HttpContext.Request.Method} is not allowed on {context.HttpContext.Request.Path}.",
                StatusCodes.Status413PayloadTooLarge => JsonBody.TooLargeMessage(delivery.MaxRequestBodyBytes),
                _ => ApiProblem.Title(response.StatusCode),
            });
        });
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapAqa();
        return app;
    }

    /// <summary>Health checks of <c>/health/live</c> (the process answers).</summary>
    public const string LiveTag = AqaObservability.LiveTag;

    /// <summary>Health checks of <c>/health/ready</c> (the bus answers, the board reads it, a model is loaded).</summary>
    public const string ReadyTag = AqaObservability.ReadyTag;

    /// <summary>The address the started host listens on (after <c>StartAsync</c>).</summary>
    public static Uri BoundUrl(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? throw new InvalidOperationException("The server is not listening yet.");
        return new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
    }
}

/// <summary>Health: the board answers and reports what it holds.</summary>
internal sealed class DeliveryHealth(PerformanceBoard board, ScoreFanOut fanOut) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(HealthCheckResult.Healthy($"{board.Count} performances, {fanOut.Connections} live connections, {fanOut.Counters.Sent} pushes sent"));
}
