"""Scale-out on a real Redis: RQ worker processes, locks, and Redis going away and coming back."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from service import jobs
from service.config import load_settings
from service.core import Quantam
from service.http.app import create_app
from service.jobs import INDEX_QUEUE, enqueue_due, make_queue, poll_source_job
from store.redis import RedisStore
from tests.support.env import REDIS_URL
from tests.support.feedbuilder import rss, story
from tests.support.feedserver import FeedServer, Reply
from tests.support.newssite import BUS, NewsSite, Page
from tests.support.redisproc import RedisProcess, require_redis_server


@pytest.fixture
def redis_store_url():
    url = f"{REDIS_URL}?prefix=qtest-work-{uuid.uuid4().hex[:10]}"
    yield url
    store = RedisStore(url)
    store.destroy()
    store.close()


def env_for(store_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "QUANTAM_STORE": store_url,
        "QUANTAM_ALLOW_PRIVATE_FETCH": "1",
        "QUANTAM_LOG_LEVEL": "WARNING",
    }


def quantam_for(store_url: str) -> Quantam:
    return Quantam(load_settings(environ={}, store=store_url, allow_private_fetch=True))


class Timeline(FeedServer):
    """A feed server that records when each request started and ended."""

    def __init__(self) -> None:
        super().__init__()
        self.spans: list[tuple[str, str, float, float]] = []

    def _handle(self, h) -> None:
        start = time.monotonic()
        super()._handle(h)
        with self._lock:
            self.spans.append((h.headers.get("Host", ""), h.path, start, time.monotonic()))


def test_two_worker_processes_poll_every_source_once(redis_store_url: str) -> None:
    server = Timeline()
    server.start()
    try:
        quantam = quantam_for(redis_store_url)
        for n in range(8):
            # two host names for one server: the per-host lock is per name
            host = "127.0.0.1" if n % 2 else "localhost"
            body = rss([story(n * 10 + i) for i in range(3)])
            server.route(f"/f{n}.rss", Reply(body=body, delay=0.3))
            quantam.ingestor.add_source(f"http://{host}:{server.port}/f{n}.rss", "x")
        queue = make_queue(quantam.settings)
        queue.empty()
        assert len(enqueue_due(quantam, queue)) == 8
        assert enqueue_due(quantam, queue) == []  # already queued: not queued twice
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "service", "worker", "--burst"],
                env=env_for(redis_store_url),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for _ in range(2)
        ]
        for w in workers:
            assert w.wait(timeout=120) == 0, w.stderr.read().decode()
        paths = sorted(path for _, path, _, _ in server.spans)
        assert paths == sorted(f"/f{n}.rss" for n in range(8))  # each exactly once
        for host in {h for h, _, _, _ in server.spans}:
            spans = sorted((s, e) for h, _, s, e in server.spans if h == host)
            for (_, end), (start, _) in itertools.pairwise(spans):
                assert start >= end - 0.01, f"two requests to {host} overlapped"
        assert quantam.store.count_articles() == 24
        assert all(s.last_status == 200 for s in quantam.store.list_sources())
        quantam.close()
    finally:
        server.stop()


TOPICS = {
    "bóng đá": [
        "Đội tuyển bóng đá Việt Nam thắng Thái Lan ở chung kết, huấn luyện viên khen cầu thủ trẻ.",
        "Tiền đạo ghi bàn phút cuối, câu lạc bộ Hà Nội lên đầu bảng xếp hạng bóng đá V-League.",
        "Liên đoàn bóng đá công bố danh sách cầu thủ tập trung đội tuyển trước vòng loại.",
        "Thủ môn cản phá phạt đền, đội tuyển bóng đá nữ giành huy chương vàng SEA Games.",
    ],
    "giá vàng": [
        "Giá vàng miếng SJC tăng mạnh, nhà đầu tư xếp hàng mua vàng tại cửa hàng kim hoàn.",
        "Ngân hàng Nhà nước đấu thầu vàng miếng để kéo giá vàng trong nước sát giá thế giới.",
        "Giá vàng thế giới lập đỉnh mới khi đồng đô la suy yếu, vàng nhẫn cũng tăng theo.",
        "Doanh nghiệp kinh doanh vàng bị thanh tra vì chênh lệch giá mua bán vàng miếng quá cao.",
    ],
    "bão lũ": [
        "Bão số 5 đổ bộ miền Trung gây mưa lớn, nhiều tỉnh ngập lụt, người dân sơ tán khẩn cấp.",
        "Lũ quét vùng núi phía Bắc cuốn trôi nhà cửa, lực lượng cứu hộ tìm kiếm người mất tích.",
        "Áp thấp nhiệt đới mạnh lên thành bão, Biển Đông có gió giật cấp 12, tàu thuyền về bờ.",
        "Mưa lũ kéo dài làm sạt lở đường, các tỉnh miền Trung cấp gạo cứu trợ dân vùng lũ.",
    ],
}


def test_worker_processes_leave_every_related_list_current(redis_store_url: str) -> None:
    """Pollers queue one index job; lists cover every article the burst stored, across
    sources, and no stored change is left unapplied when the workers exit."""
    server = FeedServer()
    server.start()
    try:
        quantam = quantam_for(redis_store_url)
        topic_of = {}
        for n in range(4):  # each feed carries one story of each topic
            items = []
            for t, (topic, lines) in enumerate(TOPICS.items()):
                link = f"https://bao{n}.example.vn/{t}-{n}.html"
                topic_of[link] = topic
                items.append(
                    {"title": lines[n][:60], "link": link, "guid": link, "description": lines[n]}
                )
            server.route(f"/f{n}.rss", Reply(body=rss(items), delay=0.2))
            quantam.ingestor.add_source(f"http://127.0.0.1:{server.port}/f{n}.rss", "x")
        make_queue(quantam.settings).empty()
        make_queue(quantam.settings, INDEX_QUEUE).empty()
        assert len(enqueue_due(quantam, make_queue(quantam.settings))) == 4
        worker = subprocess.run(
            [sys.executable, "-m", "service", "worker", "--burst", "--processes", "2"],
            env=env_for(redis_store_url),
            capture_output=True,
            timeout=180,
        )
        assert worker.returncode == 0, worker.stderr.decode()
        articles = {a.id: a for a in quantam.store.iter_articles()}
        assert len(articles) == 12
        assert not quantam.related.behind()
        for a in articles.values():
            items = [i for i in quantam.store.get_related(a.id) or [] if not i.fill]
            assert items, f"no related list for {a.title!r}"
            # a story on its topic, from another feed, is listed
            listed = [topic_of[articles[i.article_id].url] for i in items]
            assert topic_of[a.url] in listed, (a.title, listed)
        quantam.close()
    finally:
        server.stop()


def test_a_source_is_never_fetched_by_two_workers_at_once(redis_store_url: str) -> None:
    server = FeedServer()
    server.start()
    try:
        setup = quantam_for(redis_store_url)
        url = server.route("/slow.rss", Reply(body=rss([story(1)]), delay=3.0))
        source = setup.ingestor.add_source(url, "x")
        results: list[str] = []
        script = (
            "import sys; from service.jobs import poll_source_job; "
            f"print(poll_source_job({source.id}))"
        )
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", script],
                env=env_for(redis_store_url),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        for p in procs:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
            results.append(out.strip())
        assert len(server.requests_to("/slow.rss")) == 1
        assert sum("skipped, another worker is polling it" in r for r in results) == 1
        setup.close()
    finally:
        server.stop()


def test_poll_job_in_process(redis_store_url: str, feed_server: FeedServer) -> None:
    jobs.configure(load_settings(environ={}, store=redis_store_url, allow_private_fetch=True))
    jobs._worker_quantam = None
    quantam = jobs.worker_quantam()
    source = quantam.ingestor.add_source(
        feed_server.route("/a.rss", Reply(body=rss([story(1)]))), "x"
    )
    assert "1 new" in poll_source_job(source.id)
    quantam.store.remove_source(source.id)
    assert "removed before its turn" in poll_source_job(source.id)
    quantam.close()
    jobs._worker_quantam = None


@pytest.fixture
def private_redis(tmp_path: Path):
    require_redis_server()
    proc = RedisProcess(tmp_path / "redis", "--appendonly", "yes")
    proc.start()
    yield proc
    proc.kill()


def test_api_answers_503_while_redis_is_down_and_recovers(private_redis: RedisProcess) -> None:
    settings = load_settings(environ={}, store=f"{private_redis.url}?prefix=api", api_token="t")
    app = create_app(settings)
    client = app.test_client()
    push = {"url": "https://cms.example.vn/a", "title": "Tin một", "category": "x"}
    assert (
        client.post("/api/articles", json=push, headers={"Authorization": "Bearer t"}).status_code
        == 201
    )
    urls = ("/api/articles", "/feeds/x.rss", "/api/related?url=https://cms.example.vn/a")
    for url in urls:  # twice: the second answer comes from the response cache
        assert client.get(url).status_code == client.get(url).status_code == 200
    private_redis.stop()
    for url in urls:  # not from the cache: without the store its answers may be stale
        response = client.get(url)
        assert response.status_code == 503, url
        assert response.mimetype == "application/problem+json"
        body = response.get_json()
        assert "unavailable" in body["detail"] and "Traceback" not in response.get_data(
            as_text=True
        )
        assert response.headers["Retry-After"] == "5"
    health = client.get("/healthz")
    assert health.status_code == 503 and health.get_json()["status"] == "unavailable"
    private_redis.start()
    assert client.get("/api/articles").get_json()["items"][0]["title"] == "Tin một"
    assert client.get("/healthz").status_code == 200
    app.extensions["quantam"].close()


def test_poller_waits_out_a_redis_outage_and_loses_nothing(
    private_redis: RedisProcess, feed_server: FeedServer
) -> None:
    settings = load_settings(
        environ={},
        store=f"{private_redis.url}?prefix=poll",
        allow_private_fetch=True,
        poll_interval=300,
    )
    quantam = Quantam(settings)
    quantam.poller.host_delay = 0
    first = quantam.ingestor.add_source(
        feed_server.route("/a.rss", Reply(body=rss([story(1)]))), "x"
    )
    stop = threading.Event()
    thread = threading.Thread(
        target=quantam.poller.run, args=(stop,), kwargs={"cap": 0.5}, daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 20
    while quantam.store.count_articles() < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert quantam.store.count_articles() == 1
    private_redis.stop()
    time.sleep(1.5)  # the poller keeps running into the outage
    assert thread.is_alive()
    private_redis.start()
    # a source added after the outage is polled by the same, never restarted, poller
    quantam.ingestor.add_source(feed_server.route("/b.rss", Reply(body=rss([story(2)]))), "x")
    deadline = time.monotonic() + 20
    while quantam.store.count_articles() < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    thread.join(10)
    assert quantam.store.count_articles() == 2
    assert quantam.store.get_source(first.id).last_status == 200
    quantam.close()


def test_an_rq_poll_job_reads_the_new_articles_pages(
    redis_store_url: str, feed_server: FeedServer
) -> None:
    """Full text in the RQ workers too, on the Redis store: the job that stores a feed reads
    its articles' pages, and queues the index job for the lists."""
    site = NewsSite(feed_server)
    urls = [site.page(Page(f"bai-{n}", f"Bài {n}", BUS, summary=f"Tin {n}.")) for n in range(2)]
    jobs.configure(
        load_settings(
            environ={}, store=redis_store_url, allow_private_fetch=True, poll_host_delay=0
        )
    )
    jobs._worker_quantam = None
    quantam = jobs.worker_quantam()
    try:
        source = quantam.ingestor.add_source(site.feed("/rss", urls), "thoi-su")
        summary = poll_source_job(source.id)
        assert "2 new" in summary and "pages: 2 full text, 0 failed" in summary
        assert quantam.store.count_fulltext_by_source() == {source.id: {"full": 2}}
        assert BUS[3] in quantam.store.get_article(quantam.store.article_id_at(urls[0])).text
    finally:
        quantam.close()
        jobs._worker_quantam = None
