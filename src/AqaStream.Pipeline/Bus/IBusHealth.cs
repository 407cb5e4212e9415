namespace AqaStream.Pipeline.Bus;

/// <summary>A bus that can tell whether its brokers answer (Kafka); <c>/health/ready</c> asks it. A bus without it
/// (in memory) is always reachable.</summary>
public interface IBusHealth
{
    /// <summary>Null when the brokers answer, otherwise why not, in words.</summary>
    Task<string?> ProblemAsync(CancellationToken cancellationToken);
}
