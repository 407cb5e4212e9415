using System.Reactive.Linq;
using System.Reactive.Subjects;

namespace AqaStream.Pipeline.Bus;

/// <summary>
/// One box between bus topics: feeds a consumer's records into an Rx pipeline and hands every output to a
/// synchronous publisher. Runs until the input topic completes and the pipeline has flushed, or until cancelled.
/// </summary>
public static class BusStage
{
    /// <summary>Runs <paramref name="pipeline"/> over <paramref name="consumer"/>'s values.</summary>
    public static async Task RunAsync<TIn, TOut>(IBusConsumer<TIn> consumer, Func<IObservable<TIn>, IObservable<TOut>> pipeline, Action<TOut> publish,
        CancellationToken cancellationToken) where TIn : class
    {
        ArgumentNullException.ThrowIfNull(consumer);
        ArgumentNullException.ThrowIfNull(pipeline);
        var input = new Subject<TIn>();
        var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var subscription = pipeline(input.AsObservable()).Subscribe(publish, e => finished.TrySetException(e), () => finished.TrySetResult());
        using var cancel = cancellationToken.Register(() => finished.TrySetCanceled(cancellationToken));
        try
        {
            await foreach (var record in consumer.ConsumeAsync(cancellationToken).ConfigureAwait(false))
            {
                input.OnNext(record.Value);
                consumer.Commit(record);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return;
        }
        input.OnCompleted();
        await finished.Task.ConfigureAwait(false);
    }

    /// <summary>Waits for a produce inside a synchronous Rx observer: a full output topic blocks the lane that
    /// produced it (back-pressure), instead of growing memory.</summary>
    public static void Wait(ValueTask produce)
    {
        if (produce.IsCompletedSuccessfully) { return; }
        produce.AsTask().GetAwaiter().GetResult();
    }
}
