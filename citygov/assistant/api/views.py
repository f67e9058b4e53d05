"""Public chat API: ``POST /api/assistant/ask`` and ``POST /api/assistant/feedback``.

Anonymous and rate-limited per client address (``CITYGOV_ASSISTANT_RATE``, default 30/min). No session
or token authentication is consulted, so a page on another site cannot act with a signed-in user's
cookies (nothing here uses them): that is what makes the endpoints safe without a CSRF token.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from citygov.assistant import services, serving
from citygov.core.api.permissions import PublicEndpoint
from citygov.core.errors import InvalidInput


class AssistantRateThrottle(SimpleRateThrottle):
    """Per client address; 429 with Retry-After when exceeded."""

    scope = "assistant_ask"

    def get_rate(self) -> str:
        return serving.settings().rate

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class AskInput(serializers.Serializer):
    """A citizen's question."""

    question = serializers.CharField(max_length=services.MAX_QUESTION, allow_blank=True)
    conversation = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    channel = serializers.ChoiceField(choices=services.CHANNELS, default="api")


class SuggestionOutput(serializers.Serializer):
    faq_id = serializers.CharField()
    question = serializers.CharField()
    category = serializers.CharField()
    confidence = serializers.FloatField()


class AskOutput(serializers.Serializer):
    conversation = serializers.UUIDField()
    turn = serializers.IntegerField()
    decision = serializers.ChoiceField(choices=("answer", "suggest", "handoff", "chitchat"))
    confidence = serializers.IntegerField(help_text="0-100")
    text = serializers.CharField()
    faq_id = serializers.CharField(allow_blank=True)
    question = serializers.CharField(allow_blank=True, help_text="the matched FAQ question")
    category = serializers.CharField(allow_blank=True)
    agency = serializers.CharField(allow_blank=True)
    suggestions = SuggestionOutput(many=True)


class FeedbackInput(serializers.Serializer):
    conversation = serializers.CharField()
    turn = serializers.IntegerField()
    value = serializers.IntegerField()


def reply_payload(result: services.AskResult) -> dict:
    """The JSON body of an answer (shared by the API and the chat page)."""
    reply, turn = result.reply, result.turn
    best = reply.best if turn.decision == "answer" else None
    suggestions = reply.hits[:3] if turn.decision == "suggest" else ()
    return {
        "conversation": str(result.conversation_id), "turn": turn.pk, "decision": turn.decision,
        "confidence": round(reply.confidence * 100), "text": reply.reply_text,
        "faq_id": best.entry.faq_id if best else "", "question": best.entry.question if best else "",
        "category": turn.category, "agency": best.entry.agency if best else "",
        "suggestions": [{"faq_id": h.entry.faq_id, "question": h.entry.question, "category": h.entry.category,
                         "confidence": round(h.confidence * 100)} for h in suggestions],
    }


class AskView(APIView):
    """Ask the assistant one question."""

    authentication_classes: list = []
    permission_classes = [PublicEndpoint]
    throttle_classes = [AssistantRateThrottle]

    @extend_schema(request=AskInput, responses={200: AskOutput}, auth=[], tags=["assistant"])
    def post(self, request):
        data = AskInput(data=request.data)
        if not data.is_valid():
            raise InvalidInput("Invalid question / 問題格式不正確", fields=data.errors)
        result = services.do_ask(data.validated_data["question"], data.validated_data.get("conversation") or None,
                                 data.validated_data["channel"])
        return Response(reply_payload(result))


class FeedbackView(APIView):
    """Thumbs up (1) or down (-1) on one reply of the caller's conversation."""

    authentication_classes: list = []
    permission_classes = [PublicEndpoint]
    throttle_classes = [AssistantRateThrottle]

    @extend_schema(request=FeedbackInput, responses={204: None}, auth=[], tags=["assistant"])
    def post(self, request):
        data = FeedbackInput(data=request.data)
        if not data.is_valid():
            raise InvalidInput("Invalid feedback / 回饋格式不正確", fields=data.errors)
        services.do_record_feedback(data.validated_data["conversation"], data.validated_data["turn"],
                                    data.validated_data["value"])
        return Response(status=status.HTTP_204_NO_CONTENT)
