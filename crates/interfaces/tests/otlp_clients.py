"""Real OpenTelemetry exporters (the official Python SDK, from PyPI) sending to Tapio's
OTLP receiver: traces over OTLP/gRPC and OTLP/HTTP (protobuf), metrics over gRPC, logs
over HTTP. Usage: otlp_clients.py GRPC_HOST:PORT HTTP_BASE_URL"""

import logging
import sys

from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

grpc, http = sys.argv[1], sys.argv[2]


def resource(service):
    return Resource.create({
        "service.name": service,
        "k8s.namespace.name": "shop",
        "k8s.pod.name": service + "-7d9f6c5b8-x2k4q",
    })


for service, exporter in [
    ("cart-grpc", GrpcSpans(endpoint=grpc, insecure=True)),
    ("cart-http", HttpSpans(endpoint=http + "/v1/traces")),
]:
    provider = TracerProvider(resource=resource(service))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("otlp-test").start_as_current_span("GET /cart"):
        pass
    provider.shutdown()

reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=grpc, insecure=True))
meters = MeterProvider(resource=resource("cart-metrics"), metric_readers=[reader])
meters.get_meter("otlp-test").create_counter("db.client.connection.count").add(13)
meters.shutdown()

logs = LoggerProvider(resource=resource("cart-logs"))
logs.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=http + "/v1/logs")))
logger = logging.getLogger("otlp-test")
logger.addHandler(LoggingHandler(logger_provider=logs))
logger.error("connection pool exhausted: 64 of 64 in use")
logs.shutdown()
print("exported")
