"""Two instances (action server + Rasa server each) behind nginx, sharing PostgreSQL and Redis, all on
loopback (harness/services.py): the production layout of deploy/.

What must hold: a conversation's turns run one at a time and in order whichever instance receives
them, nothing is lost or attributed to another patient, a conversation moves freely between
instances, socket.io sessions stick to one instance, and Rasa's HTTP API is not reachable.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

import settings
from harness.patients import NOTHING_WRONG, PATIENTS, SERVICE_TEXTS, asked, is_emergency, new_sender, texts
from harness.servers import tarpit
from harness.services import Cluster, Nginx

pytestmark = pytest.mark.slow

# Distinct article questions, so that each reply can be matched to its own question.
QUESTIONS = [
    "How much does stem cell therapy cost?",
    "What is knee osteoarthritis?",
    "what causes knee pain?",
    "is stem cell therapy safe?",
    "how is the stem cell procedure done?",
    "what are the symptoms of knee osteoarthritis?",
    "what is cartilage?",
    "who is at risk of knee osteoarthritis?",
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    # The default rate limit, as deployed: one test checks it is shared by the instances.
    running = Cluster(
        tmp_path_factory.mktemp("cluster"),
        instances=2,
        extra_env={"RATE_LIMIT": settings.SETTINGS["RATE_LIMIT"].default},
    ).start()
    yield running
    running.stop()


def user_turns(events):
    """The stored conversation cut into turns: each user event with the events that followed it."""
    turns = []
    for event in events:
        if event["event"] == "user":
            turns.append([event])
        elif turns:
            turns[-1].append(event)
    return turns


def test_concurrent_turns_of_one_conversation_run_one_at_a_time_and_lose_nothing(cluster):
    senders = [new_sender("concurrent") for _ in range(6)]
    jobs = [(sender, seq, question) for sender in senders for seq, question in enumerate(QUESTIONS)]

    def send(job):
        sender, seq, question = job
        return job, cluster.say(sender, question, metadata={"patient": sender, "seq": seq}, timeout=60)

    # 48 requests at once: every conversation has 8 turns in flight, spread over both instances.
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        answered = dict(pool.map(send, jobs))

    for sender in senders:
        turns = user_turns(cluster.stored_events(sender))
        assert sorted(turn[0]["metadata"]["seq"] for turn in turns) == list(range(len(QUESTIONS)))
        for turn in turns:
            user, rest = turn[0], turn[1:]
            seq = user["metadata"]["seq"]
            assert user["metadata"]["patient"] == sender and user["text"] == QUESTIONS[seq]
            # A whole turn: its replies, then the assistant listening again, before the next message.
            assert rest and rest[-1]["event"] == "action" and rest[-1]["name"] == "action_listen"
            stored_replies = [e["text"] for e in rest if e["event"] == "bot"]
            # The patient got exactly the replies stored for their own message.
            assert texts(answered[(sender, seq, QUESTIONS[seq])]) == stored_replies


def test_a_conversation_moves_between_instances_and_carries_on(cluster):
    first, second = cluster.instances
    sender = new_sender("moving")
    replies = first.say(sender, "check my symptoms")
    seen = []
    for turn in range(6):  # every answer goes to the other instance than the one before
        question = asked(replies)
        assert question and question not in seen
        seen.append(question)
        instance = second if turn % 2 == 0 else first
        replies = instance.say(sender, NOTHING_WRONG[question])
    assert asked(replies) not in seen


def test_the_scripted_patients_through_nginx(cluster):
    for patient in PATIENTS.values():
        sender = new_sender(patient.name)
        turns = patient.turns(lambda message, sender=sender: cluster.say(sender, message), pause=0.55)
        assert all(turns), f"{patient.name}: a turn with no reply"
        stored = [e for e in cluster.stored_events(sender) if e["event"] == "user"]
        assert len(stored) == len(turns)
        if patient.name == "red_flag_in_self_check":
            assert any(is_emergency(text) for turn in turns for text in texts(turn))


def test_the_rate_limit_is_counted_across_instances(cluster):
    sender = new_sender("hasty")
    with ThreadPoolExecutor(max_workers=12) as pool:  # 12 at once: nginx spreads them over both instances
        replies = list(pool.map(lambda n: cluster.say(sender, f"question {n}: what is cartilage?"), range(12)))
    slowed = [r for r in replies if texts(r) == [SERVICE_TEXTS["utter_slow_down"]]]
    assert len(slowed) == 2  # the default limit: 10 messages in 5 seconds, per patient, all instances together
    assert len([e for e in cluster.stored_events(sender) if e["event"] == "user"]) == 10


# The widget's three ways in: a WebSocket from the start, long polling only, and long polling upgraded to
# a WebSocket (the widget's fallback), which needs every request of the session on one instance.
# python-socketio's threaded client: its asyncio client's WebSocket needs a newer aiohttp than Rasa's.
@pytest.mark.parametrize("transports", [["websocket"], ["polling"], ["polling", "websocket"]], ids="+".join)
def test_socketio_sessions_stick_to_one_instance_through_nginx(cluster, transports):
    import queue

    import socketio

    def talk(session_id, messages):
        client = socketio.Client(reconnection=False)
        replies: queue.Queue = queue.Queue()
        confirmed = threading.Event()
        client.on("session_confirm", lambda *_: confirmed.set())
        client.on("bot_uttered", replies.put)
        client.connect(f"{cluster.url}?knee_session={session_id}", transports=transports, socketio_path="socket.io")
        try:
            client.emit("session_request", {"session_id": session_id})
            assert confirmed.wait(10)
            answers = []
            for message in messages:
                client.emit("user_uttered", {"message": message, "session_id": session_id})
                answers.append(replies.get(timeout=20))
                time.sleep(0.3)
                while not replies.empty():
                    replies.get_nowait()
            return answers, client.transport()
        finally:
            client.disconnect()

    with ThreadPoolExecutor(max_workers=4) as pool:
        talks = [
            pool.submit(talk, new_sender("sio").replace("-", "_"), ["hi", "what is cartilage?", "bye"])
            for _ in range(4)
        ]
        for answers, transport in (done.result() for done in talks):
            assert len(answers) == 3 and all(answer.get("text") for answer in answers)
            assert transport == transports[-1]


def test_only_the_channels_are_reachable_through_nginx(cluster):
    sender = new_sender("api")
    cluster.say(sender, "hi")
    for path in (f"/conversations/{sender}/tracker", "/model", "/status", "/version"):
        assert requests.get(cluster.url + path, timeout=5).status_code == 404
    for instance in cluster.instances:  # and the API is off on the instances themselves
        assert requests.get(f"{instance.url}/conversations/{sender}/tracker", timeout=5).status_code == 404


def test_with_no_instance_answering_nginx_gives_the_busy_reply(tmp_path):
    from xml.etree import ElementTree

    from harness.servers import free_port

    nginx = Nginx(tmp_path, [f"127.0.0.1:{free_port()}"]).start()  # nothing listens there
    try:
        rest = requests.post(nginx.url + "/webhooks/rest/webhook", json={"sender": "p", "message": "hi"}, timeout=10)
        twilio_fallback = requests.post(nginx.url + "/webhooks/twilio/busy", data={"Body": "hi"}, timeout=10)
    finally:
        nginx.stop()
    assert rest.status_code == 503 and rest.headers["Retry-After"] == "10"
    assert rest.json() == [{"text": SERVICE_TEXTS["utter_busy"], "busy": True}]
    assert twilio_fallback.status_code == 200 and twilio_fallback.headers["Content-Type"].startswith("text/xml")
    assert ElementTree.fromstring(twilio_fallback.content).findtext("Message") == SERVICE_TEXTS["utter_busy"]


def test_beyond_max_conns_at_every_instance_nginx_gives_the_busy_reply_at_once(tmp_path):
    """One connection allowed, held by an instance that never answers: the next request is not queued."""
    from urllib.parse import urlparse

    with tarpit() as hung:
        nginx = Nginx(tmp_path, [urlparse(hung).netloc], webhook_connections=1).start()
        try:
            with ThreadPoolExecutor(max_workers=1) as pool:
                held = pool.submit(requests.post, nginx.url + "/webhooks/rest/webhook", json={"sender": "a"}, timeout=8)
                time.sleep(1)  # the first request holds the one connection
                second = requests.post(nginx.url + "/webhooks/rest/webhook", json={"sender": "b"}, timeout=8)
                answered_while_held = not held.done()
                with pytest.raises(requests.RequestException):
                    held.result()  # it gets nothing: that instance never answers
        finally:
            nginx.stop()
    assert answered_while_held
    assert second.status_code == 503 and second.json() == [{"text": SERVICE_TEXTS["utter_busy"], "busy": True}]
