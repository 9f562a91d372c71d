"""`compose events`: the event log's container events in Compose's shape (pkg/api Event)."""

from __future__ import annotations

import json
import re

from pypod.cli.compose_more import compose_event, event_line

LOGGED = {"Type": "container", "Status": "died", "ID": "abc123", "Name": "shop-web-1", "Image": "busybox",
          "Time": "2026-12-02T14:00:00.123456789Z",
          "Attributes": {"com.docker.compose.project": "shop", "com.docker.compose.service": "web",
                         "com.docker.compose.oneoff": "False", "maintainer": "me"}}


def test_compose_event_drops_composes_labels_and_uses_dockers_action_words():
    e = compose_event(LOGGED)
    assert e["service"] == "web" and e["id"] == "abc123" and e["action"] == "die"
    assert e["attributes"] == {"maintainer": "me", "image": "busybox", "name": "shop-web-1"}


def test_one_off_and_non_container_events_are_left_out():
    assert compose_event(dict(LOGGED, Attributes={"com.docker.compose.oneoff": "True"})) is None
    assert compose_event(dict(LOGGED, Type="network")) is None


def test_json_and_text_lines():
    e = compose_event(LOGGED)
    j = json.loads(event_line(e, True))
    assert list(j) == ["action", "attributes", "id", "service", "time", "type"] and j["type"] == "container"
    # nanoseconds kept, Go's zone (Z in UTC)
    assert re.fullmatch(r"2026-12-0[12]T\d\d:\d\d:00\.123456789(Z|[+-]\d\d:\d\d)", j["time"])
    text = event_line(e, False)
    assert re.fullmatch(r"2026-12-0[12] \d\d:\d\d:00\.123456 container die abc123 "
                        r"\(image=busybox, maintainer=me, name=shop-web-1\)", text)
