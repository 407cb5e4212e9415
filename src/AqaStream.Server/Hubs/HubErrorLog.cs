using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Logging;

namespace AqaStream.Server.Hubs;

/// <summary>
/// Logs hub calls that fail: a client's mistake (a <see cref="HubException"/>: unknown performance, bad argument) is one
/// warning line naming the call and the reason, never a stack trace on the operator's console; anything else is a
/// server failure, logged with its trace. The caller gets the same answer either way.
/// </summary>
public sealed class HubErrorLog(ILogger<HubErrorLog> logger) : IHubFilter
{
    /// <summary>SignalR's own dispatcher log, silenced in favour of this one (it prints client errors with traces).</summary>
    public const string DispatcherCategory = "Microsoft.AspNetCore.SignalR.Internal.DefaultHubDispatcher";

    /// <inheritdoc/>
    public async ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        ArgumentNullException.ThrowIfNull(invocationContext);
        ArgumentNullException.ThrowIfNull(next);
        try
        {
            return await next(invocationContext).ConfigureAwait(false);
        }
        catch (HubException e)
        {
            logger.LogWarning("hub call {Method} from {Connection} refused: {Reason}", invocationContext.HubMethodName,
                invocationContext.Context.ConnectionId, e.Message);
            throw;
        }
        catch (Exception e)
        {
            logger.LogError(e, "hub call {Method} from {Connection} failed", invocationContext.HubMethodName, invocationContext.Context.ConnectionId);
            throw;
        }
    }
}
