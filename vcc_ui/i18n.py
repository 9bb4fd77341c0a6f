"""Every UI string in Korean and English, and the current browser's language."""

from __future__ import annotations

import string

from nicegui import app, context

LANGUAGES = ('en', 'ko')
DEFAULT_LANGUAGE = 'en'

STRINGS: dict[str, dict[str, str]] = {
    # shell
    'app_name': {'en': 'VCC UI', 'ko': 'VCC UI'},
    'nav_generate': {'en': 'Generate', 'ko': '생성'},
    'nav_gallery': {'en': 'Gallery', 'ko': '갤러리'},
    'nav_inputs': {'en': 'Inputs', 'ko': '입력 보관함'},
    'nav_admin': {'en': 'Admin', 'ko': '관리자'},
    'nav_loras': {'en': 'LoRA', 'ko': 'LoRA'},
    'nav_menu': {'en': 'Menu', 'ko': '메뉴'},
    'language': {'en': 'Language', 'ko': '언어'},
    'server_down': {'en': 'ComfyUI server {name} is not reachable: {error}',
                    'ko': 'ComfyUI 서버 {name}에 연결할 수 없습니다: {error}'},
    'server_down_hint': {'en': 'New jobs wait until it is back.', 'ko': '서버가 복구될 때까지 새 작업은 대기합니다.'},
    'simulator_note': {'en': 'Using the bundled ComfyUI simulator (no COMFYUI_SERVERS configured): images are test '
                             'patterns.',
                       'ko': '내장 ComfyUI 시뮬레이터 사용 중 (COMFYUI_SERVERS 미설정): 이미지는 테스트 패턴입니다.'},
    # login
    'login_title': {'en': 'Beta access', 'ko': '베타 접속'},
    'login_intro': {'en': 'Enter the beta password you were given.', 'ko': '안내받은 베타 비밀번호를 입력하세요.'},
    'login_password': {'en': 'Password', 'ko': '비밀번호'},
    'login_submit': {'en': 'Enter', 'ko': '입장'},
    'login_wrong': {'en': 'Wrong password. Please try again.', 'ko': '비밀번호가 틀렸습니다. 다시 입력하세요.'},
    'login_empty': {'en': 'Please enter the password.', 'ko': '비밀번호를 입력하세요.'},
    'login_limited': {'en': 'Too many wrong attempts. Try again in {seconds} s.',
                      'ko': '잘못된 시도가 너무 많습니다. {seconds}초 후에 다시 시도하세요.'},
    # generate
    'generate_title': {'en': 'Generate', 'ko': '이미지 생성'},
    'gen_no_workflows': {'en': 'No workflows are installed yet.', 'ko': '설치된 워크플로우가 없습니다.'},
    'gen_has_img2img': {'en': 'Also edits images (Img2Img)', 'ko': '이미지 편집(Img2Img) 지원'},
    'gen_mode_txt2img': {'en': 'Txt2Img', 'ko': 'Txt2Img'},
    'gen_mode_img2img': {'en': 'Img2Img', 'ko': 'Img2Img'},
    'gen_prompt': {'en': 'Prompt', 'ko': '프롬프트'},
    'gen_negative': {'en': 'Negative prompt', 'ko': '네거티브 프롬프트'},
    'gen_templates': {'en': 'Recommended templates', 'ko': '추천 템플릿'},
    'gen_input_image': {'en': 'Input image', 'ko': '입력 이미지'},
    'gen_aspect': {'en': 'Aspect ratio', 'ko': '비율'},
    'gen_seed_random': {'en': 'Random seed', 'ko': '랜덤 시드'},
    'gen_seed': {'en': 'Seed', 'ko': '시드'},
    'gen_seed_roll': {'en': 'Roll a new fixed seed', 'ko': '새 고정 시드 뽑기'},
    'gen_batch': {'en': 'Images', 'ko': '장 수'},
    'gen_steps': {'en': 'Steps', 'ko': '스텝'},
    'gen_submit': {'en': 'Generate', 'ko': '생성'},
    'gen_shortcut': {'en': 'Ctrl+Enter in a prompt also generates', 'ko': '프롬프트에서 Ctrl+Enter로도 생성됩니다'},
    'gen_queued': {'en': 'Job queued', 'ko': '작업이 대기열에 등록되었습니다'},
    'gen_need_prompt': {'en': 'Please write a prompt first.', 'ko': '먼저 프롬프트를 입력하세요.'},
    'gen_need_input': {'en': 'Img2Img needs an input image: drag a thumbnail here or upload a file.',
                       'ko': 'Img2Img에는 입력 이미지가 필요합니다. 썸네일을 끌어다 놓거나 파일을 업로드하세요.'},
    'gen_unavailable': {'en': 'ComfyUI is not available right now, so nothing was queued ({reason}).',
                        'ko': '지금은 ComfyUI를 사용할 수 없어 작업을 등록하지 않았습니다 ({reason}).'},
    'gen_limit': {'en': 'Limit reached: {reason}',
                  'ko': '대기열이 가득 찼거나 동시 실행 한도에 도달했습니다. '
                        '작업이 끝나거나 취소한 뒤 다시 시도하세요. ({reason})'},
    'gen_invalid': {'en': 'Please check the form: {reason}', 'ko': '입력값을 확인하세요: {reason}'},
    'gen_refused': {'en': 'The job was not queued: {reason}', 'ko': '작업을 등록하지 못했습니다: {reason}'},
    'gen_image_missing': {'en': 'That image no longer exists.', 'ko': '해당 이미지가 더 이상 없습니다.'},
    'gen_upload_too_large': {'en': 'The file is too large (at most {mb} MB).',
                             'ko': '파일이 너무 큽니다 (최대 {mb} MB).'},
    'gen_upload_type': {'en': 'Only PNG, JPEG and WEBP images are accepted ({mb} MB at most).',
                        'ko': 'PNG, JPEG, WEBP 이미지만 올릴 수 있습니다 (최대 {mb} MB).'},
    'gen_upload_not_image': {'en': 'The file is not a readable PNG, JPEG or WEBP image ({mb} MB at most).',
                             'ko': '읽을 수 있는 PNG, JPEG, WEBP 이미지 파일이 아닙니다 (최대 {mb} MB).'},
    'gen_upload_failed': {'en': 'The image could not be used: {reason}', 'ko': '이미지를 사용할 수 없습니다: {reason}'},
    'slot_preview': {'en': 'Selected input image', 'ko': '선택한 입력 이미지'},
    'slot_clear': {'en': 'Clear', 'ko': '지우기'},
    'slot_hint': {'en': 'Drag a thumbnail here, tap one below, or upload a PNG/JPEG/WEBP file.',
                  'ko': '썸네일을 여기로 끌어다 놓거나 아래에서 탭하거나, PNG/JPEG/WEBP 파일을 업로드하세요.'},
    'slot_upload': {'en': 'Upload or drop a file', 'ko': '파일 업로드 또는 끌어다 놓기'},
    'slot_rejected': {'en': 'The file was refused: it is too large or not a PNG, JPEG or WEBP image.',
                      'ko': '파일이 거부되었습니다. 너무 크거나 PNG, JPEG, WEBP 이미지가 아닙니다.'},
    'strip_title': {'en': 'Your recent images (drag into the slot or tap)',
                    'ko': '최근 이미지 (슬롯으로 끌어다 놓거나 탭하세요)'},
    'strip_empty': {'en': 'No images yet.', 'ko': '아직 이미지가 없습니다.'},
    'strip_tip': {'en': 'Drag into the input slot, or tap to use', 'ko': '입력 슬롯으로 끌어다 놓거나 탭해서 사용'},
    'kind_generated': {'en': 'Generated image', 'ko': '생성 이미지'},
    'kind_control': {'en': 'Control image', 'ko': '컨트롤 이미지'},
    'kind_input': {'en': 'Input image', 'ko': '입력 이미지'},
    'jobs_title': {'en': 'My jobs', 'ko': '내 작업'},
    'jobs_empty': {'en': 'No jobs yet: your jobs appear here.',
                   'ko': '아직 작업이 없습니다. 작업이 여기에 표시됩니다.'},
    'job_status_queued': {'en': 'Queued', 'ko': '대기 중'},
    'job_status_dispatched': {'en': 'Starting', 'ko': '시작 중'},
    'job_status_running': {'en': 'Running', 'ko': '생성 중'},
    'job_status_saving': {'en': 'Saving', 'ko': '저장 중'},
    'job_status_completed': {'en': 'Done', 'ko': '완료'},
    'job_status_failed': {'en': 'Failed', 'ko': '실패'},
    'job_status_cancelled': {'en': 'Cancelled', 'ko': '취소됨'},
    'job_status_timed_out': {'en': 'Timed out', 'ko': '시간 초과'},
    'job_position': {'en': 'Position {n} in the queue', 'ko': '대기 순서 {n}번'},
    'job_eta': {'en': 'about {time} left', 'ko': '약 {time} 남음'},
    'job_cancel': {'en': 'Cancel this job', 'ko': '이 작업 취소'},
    'job_cancel_failed': {'en': 'This job can no longer be cancelled.', 'ko': '이 작업은 더 이상 취소할 수 없습니다.'},
    'job_preview': {'en': 'Live preview', 'ko': '실시간 미리보기'},
    'lightbox_download': {'en': 'Download', 'ko': '다운로드'},
    'lightbox_close': {'en': 'Close (Esc)', 'ko': '닫기 (Esc)'},
    'meta_prompt': {'en': 'Prompt', 'ko': '프롬프트'},
    'meta_negative': {'en': 'Negative', 'ko': '네거티브'},
    'meta_seed': {'en': 'Seed', 'ko': '시드'},
    'meta_size': {'en': 'Size', 'ko': '크기'},
    'meta_workflow': {'en': 'Workflow', 'ko': '워크플로우'},
    'meta_created': {'en': 'Created (UTC)', 'ko': '생성 시각 (UTC)'},
    # gallery
    'gallery_title': {'en': 'Gallery', 'ko': '갤러리'},
    'gallery_empty': {'en': 'No images yet.', 'ko': '아직 이미지가 없습니다.'},
    'gallery_count': {'en': '{count} image(s)', 'ko': '이미지 {count}개'},
    'inputs_title': {'en': 'Inputs', 'ko': '입력 보관함'},
    'inputs_empty': {'en': 'No input images yet.', 'ko': '아직 입력 이미지가 없습니다.'},
    # admin
}


def placeholders(text: str) -> set[str]:
    """Return the names of the {placeholders} in a string."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def best_language(accept_language: str | None) -> str:
    """Pick ko or en from an Accept-Language header (the highest-ranked one we have), default en."""
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for position, part in enumerate((accept_language or '').split(',')):
        tag, _, params = part.strip().partition(';')
        lang = tag.strip().lower().split('-')[0]
        if lang not in LANGUAGES:
            continue
        q = 1.0
        for param in params.split(';'):
            key, _, value = param.strip().partition('=')
            if key == 'q':
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        q -= position * 1e-6  # equal weights: the earlier one wins
        if q > best_q:
            best, best_q = lang, q
    return best


def translate(key: str, lang: str, **fmt: object) -> str:
    """Return the string `key` in `lang`, formatted with `fmt`."""
    text = STRINGS[key].get(lang) or STRINGS[key][DEFAULT_LANGUAGE]
    return text.format(**fmt) if fmt else text


def language() -> str:
    """Return this browser's language: its choice, else what its Accept-Language prefers."""
    storage = app.storage.user
    lang = storage.get('lang')
    if lang not in LANGUAGES:
        lang = best_language(context.client.request.headers.get('accept-language'))
        storage['lang'] = lang
    return lang


def set_language(lang: str) -> None:
    """Remember this browser's language choice."""
    if lang not in LANGUAGES:
        raise ValueError(f'unsupported language {lang!r}')
    app.storage.user['lang'] = lang


def t(key: str, **fmt: object) -> str:
    """Return the UI string `key` in the current browser's language."""
    return translate(key, language(), **fmt)
