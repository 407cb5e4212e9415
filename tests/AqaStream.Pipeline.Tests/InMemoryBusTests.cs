using AqaStream.Pipeline.Bus;
using Xunit;

namespace AqaStream.Pipeline.Tests;

public class InMemoryBusTests
{
    private sealed record Note(string Key, int Seq);

    private static readonly Topic<Note> s_topic = new("test.notes", Partitions: 4);

    private static async Task<List<BusRecord<Note>>> ReadAll(IBusConsumer<Note> consumer)
    {
        var list = new List<BusRecord<Note>>();
        await foreach (var r in consumer.ConsumeAsync()) { list.Add(r); }
        return list;
    }

    [Fact]
    public async Task ManyKeys_OrderPerKey_OnePartitionPerKey()
    {
        await using var bus = new InMemoryBus(capacity: 16);
        using var consumer = bus.Subscribe(s_topic, "g");
        var producer = bus.Producer(s_topic);
        var read = ReadAll(consumer);
        var keys = Enumerable.Range(0, 10).Select(i => $"perf-{i}").ToArray();
        // Two producers interleave; each key belongs to one producer, as one venue owns a performance.
        await Task.WhenAll(
            Task.Run(async () => { for (var s = 0; s < 200; s++) { foreach (var k in keys[..5]) { await producer.ProduceAsync(k, new Note(k, s)); } } }),
            Task.Run(async () => { for (var s = 0; s < 200; s++) { foreach (var k in keys[5..]) { await producer.ProduceAsync(k, new Note(k, s)); } } }));
        bus.Complete(s_topic);
        var records = await read;
        Assert.Equal(2000, records.Count);
        foreach (var group in records.GroupBy(r => r.Key))
        {
            Assert.Equal(Enumerable.Range(0, 200), group.Select(r => r.Value.Seq));
            Assert.Single(group.Select(r => r.Partition).Distinct());
            Assert.Equal(Topics.PartitionOf(group.Key, 4), group.First().Partition);
        }
        Assert.True(records.Select(r => r.Partition).Distinct().Count() > 1, "ten keys should spread over partitions");
    }

    [Fact]
    public async Task FullBuffer_ProducerWaits_UntilConsumerReads()
    {
        await using var bus = new InMemoryBus(capacity: 2);
        using var consumer = bus.Subscribe(s_topic, "g");
        var producer = bus.Producer(s_topic);
        await producer.ProduceAsync("a", new Note("a", 0));
        await producer.ProduceAsync("a", new Note("a", 1));
        var third = producer.ProduceAsync("a", new Note("a", 2)).AsTask();
        await Task.Delay(100);
        Assert.False(third.IsCompleted, "the third produce should wait for room (back-pressure)");
        await using var e = consumer.ConsumeAsync().GetAsyncEnumerator();
        Assert.True(await e.MoveNextAsync());
        await third.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(0, e.Current.Value.Seq);
    }

    [Fact]
    public async Task TwoGroups_EachSeeEveryMessage_BacklogWaitsForFirstGroup()
    {
        await using var bus = new InMemoryBus();
        var producer = bus.Producer(s_topic);
        await producer.ProduceAsync("k", new Note("k", 0)); // before anyone subscribed: kept for the first group
        using var first = bus.Subscribe(s_topic, "overlay");
        using var second = bus.Subscribe(s_topic, "tablet");
        await producer.ProduceAsync("k", new Note("k", 1));
        bus.Complete(s_topic);
        Assert.Equal([0, 1], (await ReadAll(first)).Select(r => r.Value.Seq));
        Assert.Equal([1], (await ReadAll(second)).Select(r => r.Value.Seq));
    }

    [Fact]
    public async Task TopicNobodyReads_DropsOldest_ProducerNeverBlocks_FirstGroupGetsLatest_ThenBackPressure()
    {
        await using var bus = new InMemoryBus(capacity: 4);
        var producer = bus.Producer(s_topic);
        for (var i = 0; i < 10; i++)
        {
            Assert.True(producer.ProduceAsync("k", new Note("k", i)).IsCompletedSuccessfully, $"produce {i} should not wait");
        }
        using var consumer = bus.Subscribe(s_topic, "late");
        // The group's own channel now holds the four retained records and is full.
        var blocked = producer.ProduceAsync("k", new Note("k", 10)).AsTask();
        await Task.Delay(100);
        Assert.False(blocked.IsCompleted, "a subscribed group's full buffer holds the producer back");
        var seen = new List<int>();
        await using var e = consumer.ConsumeAsync().GetAsyncEnumerator();
        while (seen.Count < 5 && await e.MoveNextAsync()) { seen.Add(e.Current.Value.Seq); }
        await blocked.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal([6, 7, 8, 9, 10], seen);
    }

    [Fact]
    public async Task Commit_RecordsHighestOffsetPerPartition()
    {
        await using var bus = new InMemoryBus();
        using var consumer = bus.Subscribe(s_topic, "g");
        var producer = bus.Producer(s_topic);
        for (var i = 0; i < 3; i++) { await producer.ProduceAsync("k", new Note("k", i)); }
        bus.Complete(s_topic);
        var records = await ReadAll(consumer);
        Assert.Equal([0L, 1L, 2L], records.Select(r => r.Offset));
        consumer.Commit(records[1]);
        var committed = bus.Committed(s_topic, "g");
        Assert.Equal(1, committed[Topics.PartitionOf("k", 4)]);
        Assert.Equal(3, committed.Count(c => c == -1));
    }

    [Fact]
    public async Task CompletedTopic_ProduceFails_WithTopicName()
    {
        await using var bus = new InMemoryBus();
        bus.Complete(s_topic);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => bus.Producer(s_topic).ProduceAsync("k", new Note("k", 0)).AsTask());
        Assert.Contains("test.notes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SameTopicName_OtherMessageType_ClearError()
    {
        await using var bus = new InMemoryBus();
        _ = bus.Producer(s_topic);
        var e = Assert.Throws<InvalidOperationException>(() => bus.Producer(new Topic<string>("test.notes")));
        Assert.Contains("Note", e.Message, StringComparison.Ordinal);
    }
}
