"""A staff member's browser for the inbox's tests: keeps the cookies the inbox sets (they are
Secure, which `requests` would not send back over the tests' plain loopback HTTP) and reads the
form token from the pages."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from typing import Dict, List, Optional, Tuple

import requests

FORM_TOKEN = re.compile(r'name="csrf" value="([^"]+)"')
QUEUE_ROW = re.compile(r'<tr class="level-(\w+)">\s*<td>[^<]*</td>\s*<td>([^<]*)</td>')
ITEM_LINK = re.compile(r'href="/staff/items/(\d+)"')


def queue_rows(html: str) -> List[Tuple[str, str]]:
    """(level code, kind) of each row of a queue page, top first."""
    return QUEUE_ROW.findall(html)


def item_ids(html: str) -> List[int]:
    return [int(n) for n in ITEM_LINK.findall(html)]


class StaffBrowser:
    def __init__(self, base_url: str, headers: Optional[Dict[str, str]] = None) -> None:
        self.base_url = base_url
        self.headers = dict(headers or {})
        self.cookies: Dict[str, str] = {}
        self.set_cookie_headers: List[str] = []
        self.form_token = ""

    def request(self, method: str, path: str, **fields: str) -> requests.Response:
        headers = dict(self.headers)
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = requests.request(
            method, self.base_url + path, data=fields or None, headers=headers, allow_redirects=False, timeout=30
        )
        for header in response.raw.headers.getlist("Set-Cookie"):
            self.set_cookie_headers.append(header)
            for name, morsel in SimpleCookie(header).items():
                if morsel.value in ("", '""') or morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        found = FORM_TOKEN.search(response.text)
        if found:
            self.form_token = found.group(1)
        return response

    def get(self, path: str) -> requests.Response:
        return self.request("GET", path)

    def post(self, path: str, **fields: str) -> requests.Response:
        """A form submitted from the last page read (with its form token unless one is given)."""
        return self.request("POST", path, **{"csrf": self.form_token, **fields})

    def sign_in(self, username: str, password: str) -> requests.Response:
        self.get("/sign-in")
        return self.post("/sign-in", username=username, password=password)
