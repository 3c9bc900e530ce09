"""The case worker's page in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`, driven
by Selenium) opens `GET /`, a transcript is pasted and analysed, and the DOM shows the entities highlighted by type,
the priority with its reason, the quality sub-metrics and, once a decision is selected, its evidence spans. A
screenshot is saved to the test's tmp_path."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install -e '.[serve]'")
pytest.importorskip("httpx", reason="the serve extra is not installed: pip install -e '.[serve]'")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed: pip install -e '.[serve]'")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from .test_serve import Server, settings  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
TRANSCRIPT = "my name is amina from kisumu town and the child is 12 years old . he is in danger from the old man"


@pytest.fixture
def browser():
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("headless Chromium is not installed: apt-get install chromium chromium-driver (.ci/run does, as root)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
                 "--window-size=1400,1000", "--disable-extensions", "--disable-background-networking"):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def critical_model(model_dir):
    """The tiny random model with a critical threshold every window passes: the critical alert fires."""
    from transformers import AutoTokenizer

    from helpline_fusion.modeling_attention_fusion import AttentionFusionModel

    model = AttentionFusionModel.from_pretrained(model_dir).eval()
    model.config.critical_threshold = 0.01
    return model, AutoTokenizer.from_pretrained(model_dir)


def test_the_page_shows_a_call_with_its_findings(browser, critical_model, model_dir, tmp_path):
    model, tokenizer = critical_model
    with Server(settings(model=str(model_dir)), lambda: (model, tokenizer)) as server:
        server.wait_ready()
        browser.get(server.url + "/")
        wait = WebDriverWait(browser, 30)
        wait.until(lambda d: "version sha256:" in d.find_element(By.ID, "model").text)
        box = browser.find_element(By.ID, "text")
        box.send_keys(TRANSCRIPT)  # typed as a paste lands: into the textarea
        browser.find_element(By.ID, "analyse").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#transcript mark.ent"))
        expected = model.predict(TRANSCRIPT, tokenizer, precision="auto")

        marks = browser.find_elements(By.CSS_SELECTOR, "#transcript mark.ent")
        shown = [(mark.get_attribute("data-label"), mark.text) for mark in marks]
        assert shown == [(e["label"], e["text"]) for e in expected["entities"]]  # every entity, by type, in order
        colours = {mark.get_attribute("data-label"): mark.value_of_css_property("background-color") for mark in marks}
        assert len(set(colours.values())) == len(colours)  # one colour per type
        assert browser.find_element(By.ID, "transcript").text.replace("\n", " ").strip() == TRANSCRIPT

        priority = browser.find_element(By.ID, "priority")
        assert f"Priority {expected['case']['priority']['label']}" in priority.text
        reason = browser.find_element(By.ID, "priority-reason").text
        assert "Critical alert" in reason and "characters 0–" in reason
        review = browser.find_element(By.ID, "review").text
        assert ("Needs review" in review) == expected["needs_review"]
        quality = browser.find_element(By.ID, "quality").text
        assert quality.count("not met") + quality.count("✓ met") == sum(map(len, expected["quality"].values()))

        # keyboard: focus the priority decision and press Enter: its evidence is outlined, the critical part underlined
        button = browser.find_element(By.CSS_SELECTOR, "#priority button.decision")
        button.send_keys(Keys.ENTER)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#transcript .ev"))
        assert button.get_attribute("aria-pressed") == "true"
        outlined = " ".join(node.text for node in browser.find_elements(By.CSS_SELECTOR, "#transcript .ev"))
        with_evidence = model.predict(TRANSCRIPT, tokenizer, precision="auto", evidence=True)
        for span in with_evidence["case"]["priority"]["evidence"]:
            assert all(word in outlined for word in span["text"].split())
        assert browser.find_elements(By.CSS_SELECTOR, "#transcript .crit")
        storage = browser.execute_script("return [window.localStorage.length, window.sessionStorage.length, document.cookie]")
        assert storage == [0, 0, ""]  # nothing stored by the page
        shot = tmp_path / "page.png"
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
