using System.Runtime.InteropServices;
using System.Text;

namespace AqaStream.Kafka;

/// <summary>
/// librdkafka's built-in mock cluster: real Kafka-protocol brokers on loopback ports, reachable by any client in any
/// process (ours, kcat). Lives as long as this object. Its limits (ARCHITECTURE.md): topics only through
/// <see cref="CreateTopic"/>, about 5 MiB kept per partition, no transactions.
/// </summary>
public sealed partial class KafkaMockCluster : IDisposable
{
    /// <summary>librdkafka.redist's build for glibc Linux, the one Confluent.Kafka's loader picks here (the generic
    /// <c>librdkafka.so</c> needs <c>libsasl2.so.3</c>, which Debian 12 lacks). Resolved from the app's native assets.</summary>
    private const string NativeLibraryName = "centos8-librdkafka";

    private const int ProducerType = 0;
    private const int ConfOk = 0;

    private IntPtr _handle;
    private IntPtr _cluster;

    /// <summary>Starts <paramref name="brokers"/> brokers.</summary>
    public KafkaMockCluster(int brokers = 3)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokers, 1);
        var error = new byte[512];
        var conf = rd_kafka_conf_new();
        // The hosting handle never connects anywhere itself.
        Set(conf, "bootstrap.servers", "", error);
        Set(conf, "log_level", "3", error);
        _handle = rd_kafka_new(ProducerType, conf, error, (UIntPtr)error.Length);
        if (_handle == IntPtr.Zero) { throw new InvalidOperationException($"librdkafka could not create the mock cluster's handle: {Text(error)}"); }
        _cluster = rd_kafka_mock_cluster_new(_handle, brokers);
        if (_cluster == IntPtr.Zero)
        {
            rd_kafka_destroy(_handle);
            throw new InvalidOperationException("librdkafka could not start its mock cluster.");
        }
        Brokers = brokers;
        BootstrapServers = Marshal.PtrToStringUTF8(rd_kafka_mock_cluster_bootstraps(_cluster))
            ?? throw new InvalidOperationException("the mock cluster reported no bootstrap servers.");
    }

    /// <summary>host:port,... of the brokers.</summary>
    public string BootstrapServers { get; }

    /// <summary>Broker count (ids 1..Brokers).</summary>
    public int Brokers { get; }

    /// <summary>Creates a topic (the mock cluster has no admin CreateTopics).</summary>
    public void CreateTopic(string name, int partitions, int replicationFactor = 1)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var err = rd_kafka_mock_topic_create(Cluster, name, partitions, replicationFactor);
        if (err != 0) { throw new InvalidOperationException($"the mock cluster could not create topic '{name}': error {err}."); }
    }

    /// <summary>Takes broker <paramref name="brokerId"/> (1-based) down: its connections drop and it refuses new ones.</summary>
    public void SetBrokerDown(int brokerId) => Check(rd_kafka_mock_broker_set_down(Cluster, brokerId), "down", brokerId);

    /// <summary>Brings broker <paramref name="brokerId"/> back.</summary>
    public void SetBrokerUp(int brokerId) => Check(rd_kafka_mock_broker_set_up(Cluster, brokerId), "up", brokerId);

    /// <inheritdoc />
    public void Dispose()
    {
        if (_cluster != IntPtr.Zero) { rd_kafka_mock_cluster_destroy(_cluster); _cluster = IntPtr.Zero; }
        if (_handle != IntPtr.Zero) { rd_kafka_destroy(_handle); _handle = IntPtr.Zero; }
    }

    private IntPtr Cluster => _cluster != IntPtr.Zero ? _cluster : throw new ObjectDisposedException(nameof(KafkaMockCluster));

    private static void Check(int err, string what, int brokerId)
    {
        if (err != 0) { throw new InvalidOperationException($"the mock cluster could not set broker {brokerId} {what}: error {err}."); }
    }

    private static void Set(IntPtr conf, string name, string value, byte[] error)
    {
        if (rd_kafka_conf_set(conf, name, value, error, (UIntPtr)error.Length) != ConfOk)
        {
            throw new InvalidOperationException($"librdkafka rejected {name}={value}: {Text(error)}");
        }
    }

    private static string Text(byte[] error) => Encoding.UTF8.GetString(error, 0, Math.Max(0, Array.IndexOf(error, (byte)0)));

    [LibraryImport(NativeLibraryName)]
    private static partial IntPtr rd_kafka_conf_new();

    [LibraryImport(NativeLibraryName, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rd_kafka_conf_set(IntPtr conf, string name, string value, [Out] byte[] errstr, UIntPtr errstrSize);

    [LibraryImport(NativeLibraryName)]
    private static partial IntPtr rd_kafka_new(int type, IntPtr conf, [Out] byte[] errstr, UIntPtr errstrSize);

    [LibraryImport(NativeLibraryName)]
    private static partial void rd_kafka_destroy(IntPtr rk);

    [LibraryImport(NativeLibraryName)]
    private static partial IntPtr rd_kafka_mock_cluster_new(IntPtr rk, int brokerCount);

    [LibraryImport(NativeLibraryName)]
    private static partial void rd_kafka_mock_cluster_destroy(IntPtr cluster);

    [LibraryImport(NativeLibraryName)]
    private static partial IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr cluster);

    [LibraryImport(NativeLibraryName, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rd_kafka_mock_topic_create(IntPtr cluster, string topic, int partitions, int replicationFactor);

    [LibraryImport(NativeLibraryName)]
    private static partial int rd_kafka_mock_broker_set_down(IntPtr cluster, int brokerId);

    [LibraryImport(NativeLibraryName)]
    private static partial int rd_kafka_mock_broker_set_up(IntPtr cluster, int brokerId);
}
