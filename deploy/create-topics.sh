#!/bin/sh
# Creates AqaStream's topics on a Kafka cluster (idempotent). Run with the Kafka distribution's tools on PATH, e.g.
#   docker-compose run --rm topics      (what the compose file does)
#   BOOTSTRAP=broker:9092 PARTITIONS=12 deploy/create-topics.sh
# The keyed topics must share one partition count: a performance keeps its partition number from topic to topic.
set -eu
BOOTSTRAP="${BOOTSTRAP:-kafka:9092}"
PARTITIONS="${PARTITIONS:-8}"
REPLICATION="${REPLICATION:-1}"
MAX_MESSAGE_BYTES="${MAX_MESSAGE_BYTES:-8388608}"
TOPICS_BIN="${TOPICS_BIN:-/opt/kafka/bin/kafka-topics.sh}"
TOPICS="${TOPICS:-aqa.video-chunks aqa.clip-features aqa.clip-scored aqa.performance-events aqa.dead-letter}"
for topic in $TOPICS; do
  "$TOPICS_BIN" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists --topic "$topic" \
    --partitions "$PARTITIONS" --replication-factor "$REPLICATION" --config max.message.bytes="$MAX_MESSAGE_BYTES"
done
"$TOPICS_BIN" --bootstrap-server "$BOOTSTRAP" --list
