using AqaStream.Server.Auth;
using AqaStream.Server.Delivery;
using AqaStream.Server.Hosting;
using AqaStream.Server.Hubs;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace AqaStream.Server;

/// <summary>
/// The server's HTTP surface. Pages: <c>/overlay</c>, <c>/tablet</c> (static; they fetch data with the viewer's token).
/// Hub: <c>/hub</c>. REST (JSON; errors as <c>{"error": "..."}</c>):
/// <list type="bullet">
/// <item><c>GET /api/performances</c> (results): every performance with its provisional score.</item>
/// <item><c>GET /api/performances/{id}</c> (results): one snapshot; judges also get attention details.</item>
/// <item><c>GET /api/performances/{id}/clips/{k}/thumbnail.png</c> (judge): the clip's middle frame.</item>
/// <item><c>POST /api/performances/{id}/panel-score</c> (judge): <c>{"score": 87.5}</c>.</item>
/// <item><c>POST /api/performances</c> (operator): start one; <c>POST /api/performances/{id}/end</c> (operator): end it.</item>
/// <item><c>GET /api/model</c> (results): the models in use; <c>GET /api/models</c> (operator): the checkpoints to choose from;
/// <c>PUT /api/model</c> (operator): <c>{"name": "synth-demo"}</c>, from the next performance on.</item>
/// <item><c>GET /api/me</c> (any token): the caller's role. <c>GET /health</c> (open): health.</item>
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
        app.MapHealthChecks("/health");
        MapPages(app);

        var api = app.MapGroup("/api");
        api.MapGet("/me", (HttpContext c) => Results.Ok(new { role = BearerTokenHandler.RoleOf(c.User) })).RequireAuthorization(AqaRoles.ResultsPolicy);
        api.MapGet("/performances", (PerformanceBoard board) => Results.Ok(board.List())).RequireAuthorization(AqaRoles.ResultsPolicy);
        api.MapGet("/performances/{id}", (string id, HttpContext c, PerformanceBoard board) =>
            board.Snapshot(id, BearerTokenHandler.ViewerOf(c.User)) is { } view ? Results.Ok(view) : UnknownPerformance(id))
            .RequireAuthorization(AqaRoles.ResultsPolicy);
        api.MapGet("/performances/{id}/clips/{clip:int}/thumbnail.png", (string id, int clip, PerformanceBoard board) =>
            board.Thumbnail(id, clip) is { } png ? Results.File(png, "image/png")
                : Results.NotFound(new { error = $"no thumbnail for clip {clip} of '{id}' (unknown performance or clip, or its video had none)." }))
            .RequireAuthorization(AqaRoles.JudgePolicy);
        api.MapPost("/performances/{id}/panel-score", (string id, PanelScoreRequest? body, HttpContext c, PerformanceBoard board, ScoreFanOut fanOut) =>
        {
            if (body is null || !double.IsFinite(body.Score) || body.Score < 0 || body.Score > 1000)
            {
                return Results.BadRequest(new { error = "send {\"score\": POINTS} with a number from 0 to 1000." });
            }
            if (board.SetPanelScore(id, body.Score, c.User.FindFirst("sub")?.Value ?? "judge") is not { } push) { return UnknownPerformance(id); }
            fanOut.Publish(push);
            return Results.Ok(board.Snapshot(id, BearerTokenHandler.ViewerOf(c.User)));
        }).RequireAuthorization(AqaRoles.JudgePolicy);
        api.MapPost("/performances", async (StartPerformanceRequest? body, PerformanceControl control, CancellationToken ct) =>
        {
            if (body is null || string.IsNullOrWhiteSpace(body.PerformanceId) || body.PerformanceId.Length > ScoreHub.MaxNameLength
                || string.IsNullOrWhiteSpace(body.Athlete))
            {
                return Results.BadRequest(new { error = "send {\"performanceId\": ID, \"athlete\": NAME} (optional competition, discipline, segment, target TES|PCS)." });
            }
            var started = await control.StartAsync(body, ct).ConfigureAwait(false);
            return Results.Accepted($"/api/performances/{Uri.EscapeDataString(started.PerformanceId)}", new { started.PerformanceId, startedAtMs = started.StartedAt.ToUnixTimeMilliseconds() });
        }).RequireAuthorization(AqaRoles.OperatorPolicy);
        api.MapPost("/performances/{id}/end", async (string id, PerformanceControl control, PerformanceBoard board, CancellationToken ct) =>
        {
            if (board.Snapshot(id, ViewerRole.Operator) is null) { return UnknownPerformance(id); }
            var ended = await control.EndAsync(id, ct).ConfigureAwait(false);
            return Results.Accepted($"/api/performances/{Uri.EscapeDataString(id)}", new { ended.PerformanceId, endedAtMs = ended.EndedAt.ToUnixTimeMilliseconds() });
        }).RequireAuthorization(AqaRoles.OperatorPolicy);
        api.MapGet("/model", (ModelRegistry models) => Results.Ok(models.Current())).RequireAuthorization(AqaRoles.ResultsPolicy);
        api.MapGet("/models", (ModelRegistry models) => Results.Ok(new { available = models.Available(), inUse = models.Current() }))
            .RequireAuthorization(AqaRoles.OperatorPolicy);
        api.MapPut("/model", (SelectModelRequest? body, ModelRegistry models) =>
        {
            if (body is null || string.IsNullOrWhiteSpace(body.Name)) { return Results.BadRequest(new { error = "send {\"name\": CHECKPOINT} (see GET /api/models)." }); }
            try
            {
                return Results.Ok(models.Select(body.Name));
            }
            catch (Exception e) when (e is ArgumentException or IOException or Scoring.Data.DataFormatException)
            {
                return Results.BadRequest(new { error = e.Message });
            }
        }).RequireAuthorization(AqaRoles.OperatorPolicy);
        return app;
    }

    private static IResult UnknownPerformance(string id) =>
        Results.NotFound(new { error = $"unknown performance '{id}': GET /api/performances lists them." });

    private static void MapPages(IEndpointRouteBuilder app)
    {
        app.MapGet("/", () => Results.Redirect("/overlay"));
        app.MapGet("/overlay", () => Page("overlay.html"));
        app.MapGet("/tablet", () => Page("tablet.html"));
        app.MapGet("/pages/{file}", (string file) => Page(file));
    }

    private static IResult Page(string file)
    {
        var stream = typeof(AqaEndpoints).Assembly.GetManifestResourceStream("pages/" + file);
        if (stream is null) { return Results.NotFound(new { error = $"no page '{file}'." }); }
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
