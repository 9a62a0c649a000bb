"""Sentence templates for support chats and product reviews.

Slots in braces are filled per row; the personal ones become ground-truth spans. Chats
nearly always carry personal data; most reviews carry none, a few carry a name, an
order number or contact details, as real reviews do.
"""

from __future__ import annotations

from shopveil._core import Kind

__all__ = [
    "CHATS_ABOUT_ORDER",
    "CHATS_GENERAL",
    "PII_SLOTS",
    "REVIEWS_NEGATIVE",
    "REVIEWS_POSITIVE",
]

PII_SLOTS: dict[str, Kind] = {
    "name": Kind.PERSON_NAME,
    "first": Kind.PERSON_NAME,
    "agent": Kind.PERSON_NAME,
    "friend": Kind.PERSON_NAME,
    "email": Kind.EMAIL,
    "phone": Kind.PHONE,
    "order_id": Kind.RECORD_ID,
    "street": Kind.STREET_ADDRESS,
    "city": Kind.CITY,
    "postcode": Kind.POSTCODE,
    "card": Kind.CARD_NUMBER,
}
"""Slot name → the kind of personal data it embeds. ``product`` is not personal."""

CHATS_ABOUT_ORDER = (
    "Customer: Hi, my order {order_id} hasn't arrived yet.\n"
    "Agent: Sorry to hear that! I'm {agent}. Can I take the name and postcode on the order?\n"
    "Customer: {name}, {postcode}\n"
    "Agent: Thanks {first}, it left our warehouse yesterday and should reach you tomorrow.",
    "Customer: Can you change the delivery address for order {order_id} to "
    "{street}, {city} {postcode}?\n"
    "Agent: No problem, {first}. I've updated it.\n"
    "Customer: Thanks! The driver can reach me on {phone}.\n"
    "Agent: Noted. Have a lovely day.",
    "Customer: I was charged twice for {order_id}. The card was {card}.\n"
    "Agent: I'm sorry about that. Please never send full card numbers in chat. "
    "I've raised a refund.\n"
    "Customer: OK. Please email the confirmation to {email}.\n"
    "Agent: Done. Regards, {agent}",
    "Customer: One item in order {order_id} arrived broken.\n"
    "Agent: I'm so sorry. Could you confirm the email address on your account?\n"
    "Customer: It's {email}\n"
    "Agent: Thanks {first}, a replacement {product} is on its way.",
    "Customer: Can I return order {order_id}? It was a gift and isn't quite right.\n"
    "Agent: Yes, within 30 days. I'll email a returns label to the address we hold.\n"
    "Customer: Great, thanks.",
    "Customer: This is {name}. Where is my parcel? Order number {order_id}.\n"
    "Agent: Hello {first}, it's with the courier. Let us know if it's not there by Friday.",
)

CHATS_GENERAL = (
    "Customer: Hello, I can't log in. My email is {email}.\n"
    "Agent: Hi, this is {agent}. I've sent a reset link. Is your phone still {phone}?\n"
    "Customer: Yes, that's right.\n"
    "Agent: Great, I've sent a text code too.",
    "Customer: Do you deliver to {city}?\n"
    "Agent: Yes, within 3 to 5 working days.\n"
    "Customer: Brilliant, thanks.",
    "Customer: Please update my details: {name}, {street}, {city} {postcode}, phone {phone}.\n"
    "Agent: Done, {first}. Anything else?\n"
    "Customer: No, that's all.",
    "Customer: Please delete my account and all my data. I'm {name}, {email}.\n"
    "Agent: Certainly. We'll confirm by email within 30 days. {agent}",
    "Customer: Is the {product} back in stock?\n"
    "Agent: Not yet, sorry; we expect more next month.\n"
    "Customer: OK, thanks.",
    "Customer: I'd rather pay by phone. Call me on {phone}, I'm {name}.\n"
    "Agent: Sure, {first}, a colleague will call you within the hour.",
)

REVIEWS_POSITIVE = (
    "Lovely {product}, exactly as described.",
    "Great quality and arrived quickly. Would buy again.",
    "Really pleased with this. Looks even better than the photos.",
    "Good value for money.",
    "Bought this as a present for my friend {friend} and she loved it!",
    "Perfect for our kitchen. {first} from {city}",
    "Five stars from {name} in {city}!",
    "Happy with my {product}. If anyone has questions about it, email me at {email}.",
    "Arrived the next day (order {order_id}). Very happy.",
    "Our second {product} - we liked the first so much.",
)

REVIEWS_NEGATIVE = (
    "Smaller than I expected.",
    "Not as pictured, the colour is off.",
    "Arrived damaged (order {order_id}). Customer service sorted it quickly though.",
    "Took three weeks to arrive. Order {order_id}. Call me on {phone} to make it right.",
    "Poor quality, broke after a week.",
    "Disappointed. {name}, {city}",
)
