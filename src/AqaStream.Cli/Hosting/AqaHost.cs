using System.Reactive.Concurrency;
using AqaStream.Media.Decoding;
using AqaStream.Media.Features;
using AqaStream.Media.Ingest;
using AqaStream.Media.Windowing;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Live;
using AqaStream.Server;
using AqaStream.Server.Auth;
using AqaStream.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AqaStream.Cli.Hosting;

/// <summary>The pipeline's boxes a process runs.</summary>
[Flags]
public enum AqaBoxes
{
    /// <summary>Nothing.</summary>
    None = 0,

    /// <summary>Video chunks → clip features (ffmpeg decode pool, windowing, extractor).</summary>
    Ingest = 1,

    /// <summary>Clip features → clip and provisional scores (the live scorer and its lanes).</summary>
    Scorer = 2,

    /// <summary>Delivery: SignalR hub, REST, overlay and tablet pages.</summary>
    Web = 4,
}

/// <summary>What the boxes of one process are built from (the commands fill it from their options).</summary>
public sealed record AqaHostOptions
{
    /// <summary>The boxes.</summary>
    public required AqaBoxes Boxes { get; init; }

    /// <summary>The model in use at start (scorer, web), already prepared for the engine; null without those boxes.</summary>
    public ScoringModel? Model { get; init; }

    /// <summary>Where <see cref="Model"/> came from: its directory holds the checkpoints an operator may switch to.</summary>
    public string? Checkpoint { get; init; }

    /// <summary>What a checkpoint an operator selects later goes through (the engine and device of this process).</summary>
    public Func<ScoringModel, ScoringModel>? Prepare { get; init; }

    /// <summary>Whether an operator may switch to a checkpoint that loses to the baselines on its card
    /// (<c>--allow-below-baseline</c>); refused otherwise.</summary>
    public bool AllowBelowBaseline { get; init; }

    /// <summary>Scorer lanes, batch window.</summary>
    public LivePipelineOptions Pipeline { get; init; } = new();

    /// <summary>Frames per second of the venue video (ingest).</summary>
    public int FramesPerSecond { get; init; } = new ClipWindowOptions().FramesPerSecond;

    /// <summary>Consumer group of ingest and scorer (null: each box's default).</summary>
    public string? Group { get; init; }

    /// <summary>Web: the address to listen on (port 0: any free one).</summary>
    public string Url { get; init; } = "http://127.0.0.1:5080";

    /// <summary>Without the web box: where to serve <c>/metrics</c> and <c>/health/*</c> (null: no listener). The web
    /// box serves them on its own address.</summary>
    public string? MetricsUrl { get; init; }

    /// <summary>Configuration of the host (web: <c>Delivery</c>, <c>Auth</c>; every role: <c>Logging</c>).</summary>
    public IReadOnlyDictionary<string, string?> Settings { get; init; } = new Dictionary<string, string?>();
}

/// <summary>
/// The one composition root of a running system: the boxes a process runs (<see cref="AqaBoxes"/>) as hosted services
/// on the .NET Generic Host, over a bus the caller owns (in-memory in <c>demo</c> and <c>encode --publish</c>, Kafka
/// in <c>serve</c>). With the web box the host is the delivery's ASP.NET Core application and the other boxes join it;
/// without it, a plain Generic Host. Start, SIGINT/SIGTERM (the host's console lifetime), stop and disposal go
/// through the host: stopping cancels every box, which commits what it finished, then the host releases the decoder
/// pool and the rest.
/// </summary>
public sealed class AqaHost : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly List<Box> _boxes;
    private readonly WebApplication? _observability;

    private AqaHost(IHost host, WebApplication? web, ModelRegistry? models, WebApplication? observability = null)
    {
        _host = host;
        Web = web;
        _observability = observability ?? web;
        Models = models;
        _boxes = [.. host.Services.GetServices<IHostedService>().OfType<Box>()];
    }

    /// <summary>The web application, with the web box.</summary>
    public WebApplication? Web { get; }

    /// <summary>Where this process serves <c>/metrics</c> and <c>/health/*</c> once started (the web box's address, or
    /// <see cref="AqaHostOptions.MetricsUrl"/>'s), or null.</summary>
    public Uri? ObservabilityUrl => _observability?.BoundUrl();

    /// <summary>The models in use and selectable, with the scorer or web box.</summary>
    public ModelRegistry? Models { get; }

    /// <summary>The ingest box's service, if it runs here.</summary>
    public VideoIngestService? Ingest => _host.Services.GetService<VideoIngestService>();

    /// <summary>The scorer box's service, if it runs here.</summary>
    public LiveScoringService? Scorer => _host.Services.GetService<LiveScoringService>();

    /// <summary>The host's services.</summary>
    public IServiceProvider Services => _host.Services;

    /// <summary>Cancelled when the host is asked to stop (SIGINT, SIGTERM, or <see cref="StopAsync"/>).</summary>
    public CancellationToken Stopping => _host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;

    /// <summary>Completes when every box has stopped on its own (its input topics completed) or failed.</summary>
    public Task Boxes => Task.WhenAll(_boxes.Select(b => b.ExecuteTask ?? Task.CompletedTask));

    /// <summary>Tokens for this run (12 h): the ones the console prints where no signing key is configured.</summary>
    public static readonly TimeSpan RunTokenLifetime = TimeSpan.FromHours(12);

    /// <summary>Composes the boxes of <paramref name="options"/> over <paramref name="bus"/>.</summary>
    public static AqaHost Build(AqaHostOptions options, IMessageBus bus)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(bus);
        var extractor = new MotionAppearanceDescriptor();
        ModelRegistry? models = null;
        if ((options.Boxes & (AqaBoxes.Scorer | AqaBoxes.Web)) != 0)
        {
            var model = options.Model ?? throw new ArgumentException("the scorer and web boxes need a model.");
            var checkpoint = options.Checkpoint ?? Path.Combine(Environment.CurrentDirectory, model.Card.ModelId + ".safetensors");
            // The live features' width: what this process's ingest makes; without an ingest box the features come from
            // another process (this one's ingest, or a venue's own extractor such as the Video Swin features the Fis-V
            // models read), so the model in use sets it and the pipeline dead-letters a clip of another width.
            var featureWidth = options.Boxes.HasFlag(AqaBoxes.Ingest) ? extractor.Dimension : model.Scorer.FeatureDim;
            models = new ModelRegistry(Path.GetDirectoryName(Path.GetFullPath(checkpoint))!, featureWidth,
                new Dictionary<string, ScoringModel> { [Path.GetFileNameWithoutExtension(checkpoint)] = model }, options.Prepare, options.AllowBelowBaseline);
        }
        void Compose(IServiceCollection services) => AddAqaBoxes(services, options, bus, extractor, models);
        if (options.Boxes.HasFlag(AqaBoxes.Web))
        {
            var web = AqaServer.Build(options.Url, bus, models!, options.Settings, configureServices: Compose, configureLogging: AqaLogging.Configure);
            return new AqaHost(web, web, models);
        }
        if (options.MetricsUrl is { } metricsUrl)
        {
            var observability = AqaObservability.BuildHost(metricsUrl, bus, models, options.Settings, AqaLogging.Configure, Compose);
            return new AqaHost(observability, null, models, observability);
        }
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddInMemoryCollection(options.Settings);
        AqaLogging.Configure(builder.Logging, builder.Configuration);
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.Services.AddSingleton(bus);
        if (models is not null) { builder.Services.AddSingleton(models); }
        Compose(builder.Services);
        return new AqaHost(builder.Build(), null, models);
    }

    /// <summary>Registers the ingest and scorer boxes of <paramref name="options"/> as hosted services (the web box is
    /// <see cref="AqaServer"/>'s own composition).</summary>
    private static void AddAqaBoxes(IServiceCollection services, AqaHostOptions options, IMessageBus bus, IClipFeatureExtractor extractor, ModelRegistry? models)
    {
        if (options.Boxes.HasFlag(AqaBoxes.Ingest))
        {
            services.AddSingleton(_ => new FfmpegChunkDecoder(extractor.InputSize));   // disposed with the host: the ffmpeg pool ends
            services.AddSingleton(sp => new VideoIngestService(bus, sp.GetRequiredService<FfmpegChunkDecoder>(), extractor,
                new ClipWindowOptions { FramesPerSecond = options.FramesPerSecond }, Scheduler.Default)
            { Group = options.Group ?? VideoIngestService.ConsumerGroup });
            services.AddSingleton<IHostedService>(sp => new Box("ingest", sp.GetRequiredService<VideoIngestService>().RunAsync, sp.GetRequiredService<IHostApplicationLifetime>()));
        }
        if (options.Boxes.HasFlag(AqaBoxes.Scorer))
        {
            services.AddSingleton(_ => new LiveScoringService(bus, models!.InUse, options.Pipeline, Scheduler.Default)
            { Group = options.Group ?? LiveScoringService.ConsumerGroup });
            services.AddSingleton<IHostedService>(sp => new Box("scorer", sp.GetRequiredService<LiveScoringService>().RunAsync, sp.GetRequiredService<IHostApplicationLifetime>()));
        }
    }

    /// <summary>Starts every box (web: listening).</summary>
    public Task StartAsync(CancellationToken cancellationToken = default) => _host.StartAsync(cancellationToken);

    /// <summary>Waits until the host is asked to stop (a signal) or every box has ended, then stops the host; a box
    /// that failed is rethrown.</summary>
    public async Task RunUntilStoppedAsync()
    {
        var signalled = Task.Delay(Timeout.Infinite, Stopping);
        // A web-only process has no box that could end on its own: it runs until a signal.
        await Task.WhenAny(_boxes.Count > 0 ? Boxes : signalled, signalled).ConfigureAwait(false);
        await StopAsync().ConfigureAwait(false);
    }

    /// <summary>Stops the host (boxes cancelled and awaited); a box that failed is rethrown.</summary>
    public async Task StopAsync()
    {
        await _host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        _boxes.Select(b => b.Failure).FirstOrDefault(f => f is not null)?.Throw();
    }

    /// <summary>Waits for one box to end on its own (after its input topic completed), e.g. to drain the in-memory bus.</summary>
    public Task UntilEnded(string box) => _boxes.FirstOrDefault(b => b.Name == box)?.ExecuteTask ?? Task.CompletedTask;

    /// <summary>Overlay, judge and operator tokens for this run (web box), prefixed by <paramref name="subject"/>.</summary>
    public (string Overlay, string Judge, string Operator) RunTokens(string subject)
    {
        var tokens = (Web ?? throw new InvalidOperationException("no web box: no tokens to issue.")).Services.GetRequiredService<TokenService>();
        return (tokens.Issue($"{subject}-overlay", AqaRoles.Overlay, RunTokenLifetime), tokens.Issue($"{subject}-judge", AqaRoles.Judge, RunTokenLifetime),
            tokens.Issue($"{subject}-operator", AqaRoles.Operator, RunTokenLifetime));
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (_host is IAsyncDisposable asyncHost) { await asyncHost.DisposeAsync().ConfigureAwait(false); }
        else { _host.Dispose(); }
    }

    /// <summary>One box as a hosted service: runs until its input completes or the host stops it (cancellation is
    /// a normal stop, not a failure). A box that fails stops the host and its error reaches the command
    /// (<see cref="StopAsync"/>), which prints it as one line.</summary>
    private sealed class Box(string name, Func<CancellationToken, Task> run, IHostApplicationLifetime lifetime) : BackgroundService
    {
        public string Name { get; } = name;

        public System.Runtime.ExceptionServices.ExceptionDispatchInfo? Failure { get; private set; }

        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            try
            {
                await run(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                // stopping
            }
#pragma warning disable CA1031 // the failure is kept and rethrown to the command by StopAsync
            catch (Exception e)
#pragma warning restore CA1031
            {
                Failure = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
                lifetime.StopApplication();
            }
        }
    }
}
