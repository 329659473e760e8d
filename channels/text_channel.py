"""What Twilio and Telegram share: a patient's text in, the assistant's replies out as plain text
parts, with buttons as numbered options that the patient's next "1" or "2" maps back to."""

from __future__ import annotations

from typing import Any, Awaitable, Callable, List

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage

from .guard import patient_guard
from .text_options import OfferedOptions, render


class TextChannel(InputChannel):
    offers: OfferedOptions

    async def answer_in_text(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]], sender: str, text: str, limit: int
    ) -> List[str]:
        collector = CollectingOutputChannel()
        await patient_guard().wrap(on_new_message)(
            UserMessage(self.offers.resolve(sender, text), collector, sender, input_channel=self.name())
        )
        parts, offered = render(collector.messages, limit)
        if offered:
            self.offers.remember(sender, offered)
        return parts
