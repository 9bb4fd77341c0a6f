"""The node's contract: hash route paths and answers, and how Civitai answers are read."""

from __future__ import annotations

from comfy_node.civitai import version_block
from comfy_node.contract import (
    HASH_PATH,
    CivitaiModelInfo,
    HashAnswer,
    PingAnswer,
    civitai_by_hash_path,
    civitai_model_path,
    hash_path,
    parse_model,
    parse_version,
)

VERSION_ANSWER = {
    'id': 12,
    'modelId': 3,
    'name': 'v2',
    'description': '<p>Notes</p>',
    'baseModel': 'SDXL 1.0',
    'trainedWords': [' ink wash ', '', 7, 'soft edges'],
    'stats': {'downloadCount': 5},
    'model': {'name': 'Ink', 'nsfw': False},
    'files': [{'hashes': {'SHA256': 'ABCDEF'}}, {'hashes': {}}, 'junk'],
    'images': [
        {'url': 'https://img/racy.jpeg', 'nsfwLevel': 8},
        {'url': 'https://img/clip.mp4', 'nsfwLevel': 1, 'type': 'video'},
        {'url': 'https://img/safe.jpeg', 'nsfwLevel': 1, 'type': 'image'},
        {'nsfwLevel': 1},
        *({'url': f'https://img/{i}.jpeg', 'nsfwLevel': 16} for i in range(12)),
    ],
}
MODEL_ANSWER = {
    'name': 'Ink Wash',
    'description': '<p>Brush</p>',
    'nsfw': True,
    'tags': ['style', {'name': 'ink'}, {'id': 1}, ''],
    'creator': {'username': 'brushworks', 'image': None},
}


def test_hash_path_keeps_slashes_and_quotes_the_rest() -> None:
    assert hash_path('sub/char b#1.safetensors') == '/api/vcc/lora-hash/sub/char%20b%231.safetensors'
    assert HASH_PATH.format(filename='x') == hash_path('x')


def test_answers_round_trip_through_json() -> None:
    ping = PingAnswer(ok=True, version='1.0.0', cache_entries=3, hashing=1)
    assert PingAnswer.from_json(ping.to_json()) == ping
    assert PingAnswer.from_json({'ok': False}) is None and PingAnswer.from_json('nope') is None
    answer = HashAnswer(
        filename='a.safetensors', sha256='ab' * 32, size=4, mtime=1.5, mtime_ns=1_500_000_000, cached=True
    )
    assert HashAnswer.from_json(answer.to_json()) == answer
    assert HashAnswer.from_json({**answer.to_json(), 'sha256': 'AB' * 32}) == answer
    assert HashAnswer.from_json({'error': 'not a listed LoRA', 'filename': 'x'}) is None


def test_a_version_answer_is_read_once_for_everyone() -> None:
    version = parse_version(VERSION_ANSWER)
    assert (version.version_id, version.model_id, version.model_name, version.version_name) == (12, 3, 'Ink', 'v2')
    assert version.trigger_words == ['ink wash', 'soft edges']
    assert version.image_urls[:2] == ['https://img/safe.jpeg', 'https://img/racy.jpeg']
    assert len(version.image_urls) == 10 and 'https://img/clip.mp4' not in version.image_urls
    assert version.hashes == {'abcdef'}
    assert (version.nsfw, version.stats) == (False, {'downloadCount': 5})
    assert version.page_url == 'https://civitai.com/models/3?modelVersionId=12'
    assert parse_version({'id': True, 'images': 'none'}).version_id is None


def test_a_model_answer_reads_tag_names_in_both_shapes() -> None:
    model = parse_model(MODEL_ANSWER)
    assert (model.name, model.creator, model.nsfw, model.tags) == ('Ink Wash', 'brushworks', True, ['style', 'ink'])
    assert CivitaiModelInfo.from_record(model.to_record()) == model
    assert parse_model({'creator': 'someone'}).creator is None


def test_the_node_block_comes_from_the_same_reading() -> None:
    block = version_block(parse_version(VERSION_ANSWER), parse_model(MODEL_ANSWER), '2024-01-01T00:00:00Z')
    assert block['civitai_name'] == 'Ink Wash' and block['trigger_words'] == ['ink wash', 'soft edges']
    assert block['thumbnail_urls'] == parse_version(VERSION_ANSWER).image_urls
    assert (block['tags'], block['creator'], block['nsfw']) == (['style', 'ink'], 'brushworks', True)
    assert version_block(parse_version(VERSION_ANSWER), None, 'now')['nsfw'] is False


def test_civitai_paths() -> None:
    assert civitai_by_hash_path('AB') == '/api/v1/model-versions/by-hash/AB'
    assert civitai_model_path(7) == '/api/v1/models/7'
