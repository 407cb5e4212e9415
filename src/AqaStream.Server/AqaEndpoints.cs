using AqaStream.Server.Api;
using AqaStream.Server.Auth;
using AqaStream.Server.Delivery;
using AqaStream.Server.Hosting;
using AqaStream.Server.Hubs;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace AqaStream.Server;

/// <summary>
/// The server's HTTP surface. Pages: <c>/overlay</c> (score bug), <c>/standings</c>, <c>/tablet</c> (static; they fetch data with the viewer's token).
/// Hub: <c>/hub</c>. REST (JSON; every error is a problem-details body that also carries <c>"error"</c>; request bodies are
/// read strictly by <see cref="JsonBody"/>):
/// <list type="bullet">
/// <item><c>GET /api/performances</c> (results): every performance with its provisional score.</item>
/// <item><c>GET /api/performances/{id}</c> (results): one snapshot; judges also get attention details.</item>
/// <item><c>GET /api/performances/{id}/clips/{k}/thumbnail.png</c> (judge): the clip's middle frame.</item>
/// <item><c>POST /api/performances/{id}/panel-score</c> (judge): <c>{"score": 87.5}</c>.</item>
/// <item><c>POST /api/performances</c> (operator): start one (409 when the id exists); <c>POST /api/performances/{id}/end</c>
/// (operator): end it (409 when it has ended).</item>
/// <item><c>GET /api/model</c> (results): the models in use; <c>GET /api/models</c> (operator): the checkpoints to choose from, and those not fit for air with the reason;
/// <c>PUT /api/model</c> (operator): <c>{"name": "synth-demo"}</c>, from the next performance on.</item>
/// <item><c>GET /api/me</c> (any token): the caller's role. <c>GET /health</c>, <c>/health/live</c>, <c>/health/ready</c>
/// and <c>GET /metrics</c> (Prometheus) are open.</item>
/// </list>
/// </summary>
public static class AqaEndpoints
{
    /// <summary>Where the hub is.</summary>
    public const string HubPath = "/hub";

    /// <summary>Maps everything.</summary>
    public static WebApplication MapAqa(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapHub<ScoreHub>(HubPath, o => o.AllowStatefulReconnects = true);
        app.MapAqaObservability();
        MapPages(app);

        var api = app.MapGroup("/api");
        api.MapGet("/me", (HttpContext c) => Results.Ok(new { role = AqaAuthentication.RoleOf(c.User) })).RequireAuthorization(AqaRoles.ResultsPolicy);
        api.MapGet("/performances", (PerformanceBoard board) => Results.Ok(board.List())).RequireAuthorization(AqaRoles.ResultsPolicy);
        api.MapGet("/performances/{id}", (string id, HttpContext c, PerformanceBoard board) =>
            board.Snapshot(id, AqaAuthentication.ViewerOf(c.User)) is { } view ? Results.Ok(view) : UnknownPerformance(id))
            .RequireAuthorization(AqaRoles.ResultsPolicy);
        api.MapGet("/performances/{id}/clips/{clip:int}/thumbnail.png", (string id, int clip, PerformanceBoard board) =>
            board.Thumbnail(id, clip) is { } png ? Results.File(png, "image/png")
                : ApiProblem.Result(StatusCodes.Status404NotFound, $"no thumbnail for clip {clip} of '{id}' (unknown performance or clip, or its video had none)."))
            .RequireAuthorization(AqaRoles.JudgePolicy);
        api.MapPost("/performances/{id}/panel-score", async (string id, HttpContext c, PerformanceBoard board, ScoreFanOut fanOut, DeliveryOptions limits) =>
        {
            var (body, error) = await JsonBody.ReadAsync<PanelScoreRequest>(c.Request, limits.MaxRequestBodyBytes, PanelScoreRequest.Example, c.RequestAborted)
                .ConfigureAwait(false);
            if (body is null) { return error!; }
            if (board.SetPanelScore(id, body.Score, c.User.FindFirst("sub")?.Value ?? "judge") is not { } push) { return UnknownPerformance(id); }
            fanOut.Publish(push);
            return Results.Ok(board.Snapshot(id, AqaAuthentication.ViewerOf(c.User)));
        }).RequireAuthorization(AqaRoles.JudgePolicy);
        api.MapPost("/performances", async (HttpContext c, PerformanceControl control, PerformanceBoard board, DeliveryOptions limits) =>
        {
            var (body, error) = await JsonBody.ReadAsync<StartPerformanceRequest>(c.Request, limits.MaxRequestBodyBytes, StartPerformanceRequest.Example, c.RequestAborted)
                .ConfigureAwait(false);
            if (body is null) { return error!; }
            // A performance id names one performance for good: starting it again would overwrite its athlete and times.
            if (board.Snapshot(body.PerformanceId, ViewerRole.Operator) is { } existing)
            {
                return ApiProblem.Result(StatusCodes.Status409Conflict,
                    $"performance '{body.PerformanceId}' already exists ({existing.Status}, athlete '{existing.Athlete}'): start a new one with a new id.");
            }
            if (await control.StartAsync(body, c.RequestAborted).ConfigureAwait(false) is not { } started)
            {
                return ApiProblem.Result(StatusCodes.Status409Conflict, $"performance '{body.PerformanceId}' was already started: start a new one with a new id.");
            }
            return Results.Accepted($"/api/performances/{Uri.EscapeDataString(started.PerformanceId)}", new { started.PerformanceId, startedAtMs = started.StartedAt.ToUnixTimeMilliseconds() });
        }).RequireAuthorization(AqaRoles.OperatorPolicy);
        api.MapPost("/performances/{id}/end", async (string id, PerformanceControl control, PerformanceBoard board, CancellationToken ct) =>
        {
            if (board.Snapshot(id, ViewerRole.Operator) is not { } view) { return UnknownPerformance(id); }
            if (view.Status == PerformanceView.Ended) { return ApiProblem.Result(StatusCodes.Status409Conflict, $"performance '{id}' has already ended."); }
            var ended = await control.EndAsync(id, ct).ConfigureAwait(false);
            return Results.Accepted($"/api/performances/{Uri.EscapeDataString(id)}", new { ended.PerformanceId, endedAtMs = ended.EndedAt.ToUnixTimeMilliseconds() });
        }).RequireAuthorization(AqaRoles.OperatorPolicy);
        api.MapGet("/model", (ModelRegistry models) => Results.Ok(models.Current())).RequireAuthorization(AqaRoles.ResultsPolicy);
        api.MapGet("/models", (ModelRegistry models) => Results.Ok(new { available = models.Available(), inUse = models.Current(), notFitForAir = models.NotFitForAir() }))
            .RequireAuthorization(AqaRoles.OperatorPolicy);
        api.MapPut("/model", async (HttpContext c, ModelRegistry models, DeliveryOptions limits) =>
        {
            var (body, error) = await JsonBody.ReadAsync<SelectModelRequest>(c.Request, limits.MaxRequestBodyBytes, SelectModelRequest.Example, c.RequestAborted)
                .ConfigureAwait(false);
            if (body is null) { return error!; }
            try
            {
                return Results.Ok(models.Select(body.Name));
            }
            catch (Exception e) when (e is ArgumentException or IOException or Scoring.Data.DataFormatException)
            {
                return ApiProblem.Result(StatusCodes.Status400BadRequest, e.Message);
            }
        }).RequireAuthorization(AqaRoles.OperatorPolicy);
        return app;
    }

    private static IResult UnknownPerformance(string id) =>
        ApiProblem.Result(StatusCodes.Status404NotFound, $"unknown performance '{id}': GET /api/performances lists them.");

    private static void MapPages(IEndpointRouteBuilder app)
    {
        app.MapGet("/", () => Results.Redirect("/overlay"));
        app.MapGet("/overlay", () => Page("overlay.html"));
        app.MapGet("/standings", () => Page("standings.html"));
        app.MapGet("/tablet", () => Page("tablet.html"));
        app.MapGet("/pages/{file}", (string file) => Page(file));
    }

    private static IResult Page(string file)
    {
        var stream = typeof(AqaEndpoints).Assembly.GetManifestResourceStream("pages/" + file);
        if (stream is null) { return ApiProblem.Result(StatusCodes.Status404NotFound, $"no page '{file}'."); }
        var type = Path.GetExtension(file) switch
        {
            ".html" => "text/html; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            ".css" => "text/css; charset=utf-8",
            _ => "application/octet-stream",
        };
        return Results.Stream(stream, type);
    }
}
