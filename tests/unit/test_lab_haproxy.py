"""The lab's HAProxy never passes through a moment with every server at weight 0."""

from __future__ import annotations

from pathlib import Path

from lab.haproxy import HAProxy


class Recording(HAProxy):
    def __init__(self, dir: Path) -> None:  # noqa: A002
        super().__init__(dir, ingress_port=1, exporter_port=2,
                         servers={"blue": 3, "green": 4})
        self.sent: list[str] = []

    def command(self, line: str, timeout: float = 2.0) -> str:
        self.sent.append(line)
        return ""


def test_a_flip_raises_the_new_server_before_lowering_the_old(tmp_path: Path) -> None:
    proxy = Recording(tmp_path)
    proxy.weights = {"blue": 256, "green": 0, "void": 0}
    proxy.set_weights({"blue": 0, "green": 256, "void": 0})
    assert proxy.sent == ["set weight shop/shop-green 256", "set weight shop/shop-blue 0"]
    assert proxy.weights == {"blue": 0, "green": 256, "void": 0}


def test_unchanged_weights_send_nothing(tmp_path: Path) -> None:
    proxy = Recording(tmp_path)
    proxy.weights = {"blue": 128, "green": 128, "void": 0}
    proxy.set_weights({"blue": 128, "green": 128, "void": 0})
    assert proxy.sent == []
