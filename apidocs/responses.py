"""The TaskResponse of SPEC.md §7 as marshmallow schemas, for the document only.

routes.task_response builds responses directly (nothing to validate on the way out), so these
schemas describe it rather than produce it; the contract tests (tests/test_openapi.py) check every
response the service gives against them, so the two cannot drift apart unseen."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas import (
    SEGMENT_TYPES,
    STATUSES,
    ChunkProcessingSchema,
    LlmProcessingSchema,
    SegmentProcessingField,
    TokenizerField,
)
from webhooks.outbox import STATES as DELIVERY_STATES


def _required(field_class, *args, **kwargs):
    """A key that is always present (its value may still be null when allow_none)."""
    return field_class(*args, required=True, **kwargs)


class BoundingBoxSchema(Schema):
    left = _required(fields.Float)
    top = _required(fields.Float)
    width = _required(fields.Float)
    height = _required(fields.Float)


class OcrResultSchema(Schema):
    bbox = _required(fields.Nested, BoundingBoxSchema)
    text = _required(fields.String)
    confidence = _required(fields.Float, allow_none=True)


class SegmentSchema(Schema):
    """One layout segment; `confidence` is always present, possibly null (the 0.3.7 client needs it)."""

    segment_id = _required(fields.String)
    segment_type = _required(fields.String, validate=validate.OneOf(SEGMENT_TYPES))
    bbox = _required(fields.Nested, BoundingBoxSchema)
    page_number = _required(fields.Integer, validate=validate.Range(min=1))
    page_width = _required(fields.Float)
    page_height = _required(fields.Float)
    confidence = _required(fields.Float, allow_none=True)
    content = _required(fields.String)
    text = fields.String()
    html = fields.String(allow_none=True)
    markdown = fields.String(allow_none=True)
    image = fields.String(allow_none=True, metadata={"description": "A signed URL of this service, or a data: URL"})
    ocr = fields.List(fields.Nested(OcrResultSchema), allow_none=True)
    llm = fields.String(allow_none=True)
    embed = fields.String(allow_none=True)


class ChunkSchema(Schema):
    chunk_id = _required(fields.String)
    chunk_length = _required(fields.Integer)
    segments = _required(fields.List, fields.Nested(SegmentSchema))
    embed = fields.String(allow_none=True)


class PageSchema(Schema):
    image = fields.String(allow_none=True, metadata={"description": "A signed URL of this service, or a data: URL"})
    page_number = fields.Integer()
    page_width = fields.Float()
    page_height = fields.Float()
    dpi = fields.Float(allow_none=True, metadata={"description": "The resolution the page image was rendered at"})


class OutputSchema(Schema):
    """A task's output; `chunks` is filled only once it has Succeeded and include_chunks is true."""

    chunks = _required(fields.List, fields.Nested(ChunkSchema))
    file_name = _required(fields.String, allow_none=True)
    page_count = _required(fields.Integer, allow_none=True)
    pdf_url = _required(fields.String, allow_none=True)
    mime_type = fields.String(allow_none=True)
    pages = fields.List(fields.Nested(PageSchema), allow_none=True)


class StoredChunkProcessingSchema(ChunkProcessingSchema):
    target_length = _required(fields.Integer)
    tokenizer = _required(TokenizerField)
    ignore_headers_and_footers = _required(fields.Boolean)


class StoredLlmProcessingSchema(LlmProcessingSchema):
    model_id = _required(fields.String, allow_none=True)
    max_completion_tokens = _required(fields.Integer, allow_none=True)
    temperature = _required(fields.Float)


class TaskConfigurationSchema(Schema):
    """The stored configuration, echoed with every default filled in (SPEC.md §8)."""

    chunk_processing = _required(fields.Nested, StoredChunkProcessingSchema)
    expires_in = _required(fields.Integer, allow_none=True)
    high_resolution = _required(fields.Boolean)
    ocr_strategy = _required(fields.String, validate=validate.OneOf(("All", "Auto")))
    segmentation_strategy = _required(fields.String, validate=validate.OneOf(("LayoutAnalysis", "Page")))
    segment_processing = _required(SegmentProcessingField)
    error_handling = _required(fields.String, validate=validate.OneOf(("Fail", "Continue")))
    llm_processing = _required(fields.Nested, StoredLlmProcessingSchema)
    pipeline = _required(fields.String, allow_none=True, validate=validate.OneOf(("Chunkr", "Azure")))
    input_file_url = _required(fields.String, allow_none=True, metadata={
        "description": "The input: a signed URL of this service (or a data: URL), or the URL it was given"})


class TaskResponseSchema(Schema):
    """A task as every task route returns it (SPEC.md §7)."""

    task_id = _required(fields.String, metadata={"format": "uuid"})
    status = _required(fields.String, validate=validate.OneOf(STATUSES))
    message = _required(fields.String)
    created_at = _required(fields.String, metadata={"format": "date-time"})
    started_at = _required(fields.String, allow_none=True, metadata={"format": "date-time"})
    finished_at = _required(fields.String, allow_none=True, metadata={"format": "date-time"})
    expires_at = _required(fields.String, allow_none=True, metadata={"format": "date-time"})
    task_url = _required(fields.String, metadata={
        "format": "uri", "description": "Absolute, on the prefix and host the request came in on (or PUBLIC_URL)"})
    configuration = _required(fields.Nested, TaskConfigurationSchema)
    output = _required(fields.Nested, OutputSchema, allow_none=True)



class WebhookEndpointSchema(Schema):
    """A registered webhook endpoint; `secret` only in the answer that made it."""

    id = _required(fields.String)
    url = _required(fields.String, metadata={"format": "uri"})
    created_at = _required(fields.String, metadata={"format": "date-time"})
    secret = fields.String(metadata={"description": "Signs the events sent to this endpoint (Standard Webhooks)"})


class WebhookSecretSchema(Schema):
    """The owner's secret, signing the events sent to a task's own `webhook_url`."""

    secret = _required(fields.String)


class WebhookDeliverySchema(Schema):
    """One event on its way to one endpoint, and how its attempts went."""

    id = _required(fields.Integer)
    event_id = _required(fields.String)
    task_id = _required(fields.String)
    endpoint_id = _required(fields.String, allow_none=True)
    url = _required(fields.String)
    status = _required(fields.String, validate=validate.OneOf(STATUSES))
    message = _required(fields.String, allow_none=True)
    occurred_at = _required(fields.String, metadata={"format": "date-time"})
    state = _required(fields.String, validate=validate.OneOf(DELIVERY_STATES))
    attempts = _required(fields.Integer)
    next_attempt_at = _required(fields.String, allow_none=True, metadata={"format": "date-time"})
    last_error = _required(fields.String, allow_none=True)
    delivered_at = _required(fields.String, allow_none=True, metadata={"format": "date-time"})
