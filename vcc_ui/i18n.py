"""Every UI string in Korean and English, and the current browser's language."""

from __future__ import annotations

import string
from contextlib import suppress

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
    'nav_tokens': {'en': 'API tokens', 'ko': 'API 토큰'},
    'nav_menu': {'en': 'Menu', 'ko': '메뉴'},
    'language': {'en': 'Language', 'ko': '언어'},
    'server_down': {
        'en': 'ComfyUI server {name} is not reachable: {error}',
        'ko': 'ComfyUI 서버 {name}에 연결할 수 없습니다: {error}',
    },
    'server_down_hint': {
        'en': 'New jobs are refused until a server is back.',
        'ko': '서버가 복구될 때까지 새 작업은 받지 않습니다.',
    },
    'server_down_others': {'en': 'Jobs run on the other servers.', 'ko': '작업은 다른 서버에서 실행됩니다.'},
    'server_some_down': {
        'en': 'A ComfyUI server is not reachable right now.',
        'ko': '지금 연결할 수 없는 ComfyUI 서버가 있습니다.',
    },
    'server_down_public': {
        'en': 'No ComfyUI server is reachable right now.',
        'ko': '지금은 연결 가능한 ComfyUI 서버가 없습니다.',
    },
    'simulator_note': {
        'en': 'Using the bundled ComfyUI simulator (no COMFYUI_SERVERS configured): images are test patterns.',
        'ko': '내장 ComfyUI 시뮬레이터 사용 중 (COMFYUI_SERVERS 미설정): 이미지는 테스트 패턴입니다.',
    },
    # login
    'login_title': {'en': 'Beta access', 'ko': '베타 접속'},
    'login_intro': {'en': 'Enter the beta password you were given.', 'ko': '안내받은 베타 비밀번호를 입력하세요.'},
    'login_password': {'en': 'Password', 'ko': '비밀번호'},
    'login_submit': {'en': 'Enter', 'ko': '입장'},
    'login_wrong': {'en': 'Wrong password. Please try again.', 'ko': '비밀번호가 틀렸습니다. 다시 입력하세요.'},
    'login_limited': {
        'en': 'Too many wrong attempts. Try again in {seconds} s.',
        'ko': '잘못된 시도가 너무 많습니다. {seconds}초 후에 다시 시도하세요.',
    },
    # generate
    'generate_title': {'en': 'Generate', 'ko': '이미지 생성'},
    'gen_no_workflows': {'en': 'No workflows are installed yet.', 'ko': '설치된 워크플로우가 없습니다.'},
    'gen_has_img2img': {'en': 'Also edits images (Img2Img)', 'ko': '이미지 편집(Img2Img) 지원'},
    'gen_mode_txt2img': {'en': 'Txt2Img', 'ko': 'Txt2Img'},
    'gen_mode_img2img': {'en': 'Img2Img', 'ko': 'Img2Img'},
    'gen_has_modes': {'en': 'Has more modes (see the tabs)', 'ko': '다른 모드도 있습니다 (탭 참고)'},
    'gen_advanced': {'en': 'Advanced', 'ko': '고급 설정'},
    'gen_prompt': {'en': 'Prompt', 'ko': '프롬프트'},
    'gen_negative': {'en': 'Negative prompt', 'ko': '네거티브 프롬프트'},
    'gen_history': {'en': 'Recent prompts', 'ko': '최근 프롬프트'},
    'gen_history_filter': {'en': 'Search your prompts', 'ko': '프롬프트 검색'},
    'gen_history_empty': {'en': 'No prompts yet.', 'ko': '아직 프롬프트가 없습니다.'},
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
    'gen_need_input': {
        'en': 'Img2Img needs an input image: drag a thumbnail here or upload a file.',
        'ko': 'Img2Img에는 입력 이미지가 필요합니다. 썸네일을 끌어다 놓거나 파일을 업로드하세요.',
    },
    'gen_unavailable': {
        'en': 'No ComfyUI server is reachable right now, so nothing was queued. Try again once it is back.',
        'ko': '지금은 연결 가능한 ComfyUI 서버가 없어 작업을 등록하지 않았습니다. 서버가 복구되면 다시 시도하세요.',
    },
    'gen_workflow_unavailable': {
        'en': 'This workflow cannot run now, so nothing can be queued: {reason}',
        'ko': '이 워크플로우는 지금 실행할 수 없어 작업을 등록할 수 없습니다: {reason}',
    },
    'gen_unavailable_db': {
        'en': 'The job could not be stored, so nothing was queued. Try again later.',
        'ko': '작업을 저장하지 못해 등록하지 않았습니다. 잠시 후 다시 시도하세요.',
    },
    'gen_limit_server_full': {
        'en': 'The queue is full ({limit} jobs are waiting). Try again in a few minutes.',
        'ko': '대기열이 가득 찼습니다 (대기 작업 {limit}개). 몇 분 뒤 다시 시도하세요.',
    },
    'gen_limit_source_full': {
        'en': 'Too many unfinished jobs come from your network ({limit}). Wait for some to finish.',
        'ko': '같은 네트워크에서 끝나지 않은 작업이 너무 많습니다 ({limit}개). 일부가 끝날 때까지 기다리세요.',
    },
    'new_ids_limit': {
        'en': 'Too many new visitors from your network this hour. Keep your cookies, or try again later.',
        'ko': '이번 시간에 같은 네트워크에서 새 방문자가 너무 많습니다. 쿠키를 유지하거나 나중에 다시 시도하세요.',
    },
    'gen_unavailable_storage_full': {
        'en': 'The image storage is full, so nothing was queued. Try again later.',
        'ko': '이미지 저장 공간이 가득 차 작업을 등록하지 않았습니다. 잠시 후 다시 시도하세요.',
    },
    'gen_unavailable_storage_read_only': {
        'en': 'The image storage cannot be written, so nothing was queued. Try again later.',
        'ko': '이미지 저장소에 쓸 수 없어 작업을 등록하지 않았습니다. 잠시 후 다시 시도하세요.',
    },
    'storage_unavailable': {
        'en': 'The image storage cannot be written right now, so nothing was changed. Try again later.',
        'ko': '지금은 이미지 저장소에 쓸 수 없어 아무것도 바꾸지 않았습니다. 잠시 후 다시 시도하세요.',
    },
    'gen_limit': {'en': 'Limit reached: {reason}', 'ko': '한도에 도달했습니다: {reason}'},
    'gen_limit_queue_full': {
        'en': 'You already have {queued} jobs waiting (the limit). Wait for one to finish or cancel one.',
        'ko': '이미 작업 {queued}개가 대기 중입니다 (최대). 작업이 끝나거나 하나를 취소한 뒤 다시 시도하세요.',
    },
    'gen_limit_queue_full_one': {
        'en': 'You already have 1 job waiting (the limit). Wait for it to finish or cancel it.',
        'ko': '이미 작업 1개가 대기 중입니다 (최대). 작업이 끝나거나 취소한 뒤 다시 시도하세요.',
    },
    'gen_limit_running_full': {
        'en': 'You already have {active} job(s) running (limit {limit}). Wait for one to finish or cancel it.',
        'ko': '이미 {active}개 작업이 실행 중입니다 (한도 {limit}개). 작업이 끝나거나 취소한 뒤 다시 시도하세요.',
    },
    'gen_field_greater_than_equal': {
        'en': '{field} must be at least {ge}.',
        'ko': '{field} 값은 {ge} 이상이어야 합니다.',
    },
    'gen_field_less_than_equal': {'en': '{field} must be at most {le}.', 'ko': '{field} 값은 {le} 이하여야 합니다.'},
    'gen_field_int_type': {'en': '{field} must be a whole number.', 'ko': '{field} 값은 정수여야 합니다.'},
    'gen_need_seed': {'en': 'Enter a seed, or turn on random seed.', 'ko': '시드를 입력하거나 랜덤 시드를 켜세요.'},
    'gen_invalid_params_param_unknown': {
        'en': "This workflow has no parameter '{name}'.",
        'ko': "이 워크플로우에는 '{name}' 매개변수가 없습니다.",
    },
    'gen_invalid_params_param_min': {
        'en': '{label} must be at least {min}.',
        'ko': '{label} 값은 {min} 이상이어야 합니다.',
    },
    'gen_invalid_params_param_max': {
        'en': '{label} must be at most {max}.',
        'ko': '{label} 값은 {max} 이하여야 합니다.',
    },
    'gen_invalid_params_param_number': {
        'en': '{label} must be a number.',
        'ko': '{label} 값은 숫자여야 합니다.',
    },
    'gen_invalid_params_param_int': {
        'en': '{label} must be a whole number.',
        'ko': '{label} 값은 정수여야 합니다.',
    },
    'gen_invalid_params_param_bool': {
        'en': '{label} must be true or false.',
        'ko': '{label} 값은 true 또는 false여야 합니다.',
    },
    'gen_invalid_params_param_text': {'en': '{label} must be text.', 'ko': '{label} 값은 텍스트여야 합니다.'},
    'gen_invalid_params_param_too_long': {
        'en': '{label} must be at most {max} characters.',
        'ko': '{label} 값은 {max}자 이하여야 합니다.',
    },
    'gen_invalid_params_param_choice': {
        'en': "{label}: '{value}' is not offered; choose one of: {choices}",
        'ko': "{label}: '{value}'은(는) 선택할 수 없습니다. 다음 중에서 고르세요: {choices}",
    },
    'gen_invalid_params_param_server': {
        'en': '{label} cannot be set on this server.',
        'ko': '{label} 값은 이 서버에서 설정할 수 없습니다.',
    },
    'gen_invalid': {'en': 'Please check the form: {reason}', 'ko': '입력값을 확인하세요: {reason}'},
    'gen_refused': {'en': 'The job was not queued: {reason}', 'ko': '작업을 등록하지 못했습니다: {reason}'},
    'gen_image_missing': {'en': 'That image no longer exists.', 'ko': '해당 이미지가 더 이상 없습니다.'},
    'gen_upload_too_large': {
        'en': 'The file is too large (at most {mb} MB).',
        'ko': '파일이 너무 큽니다 (최대 {mb} MB).',
    },
    'gen_upload_type': {
        'en': 'Only PNG, JPEG and WEBP images are accepted ({mb} MB at most).',
        'ko': 'PNG, JPEG, WEBP 이미지만 올릴 수 있습니다 (최대 {mb} MB).',
    },
    'gen_upload_not_image': {
        'en': 'The file is not a readable PNG, JPEG or WEBP image ({mb} MB at most).',
        'ko': '읽을 수 있는 PNG, JPEG, WEBP 이미지 파일이 아닙니다 (최대 {mb} MB).',
    },
    'gen_upload_failed': {'en': 'The image could not be used: {reason}', 'ko': '이미지를 사용할 수 없습니다: {reason}'},
    'slot_preview': {'en': 'Selected input image', 'ko': '선택한 입력 이미지'},
    'slot_clear': {'en': 'Clear', 'ko': '지우기'},
    'slot_hint': {
        'en': 'Drag a thumbnail here, tap one below, or upload a PNG/JPEG/WEBP file.',
        'ko': '썸네일을 여기로 끌어다 놓거나 아래에서 탭하거나, PNG/JPEG/WEBP 파일을 업로드하세요.',
    },
    'slot_upload': {'en': 'Upload or drop a file', 'ko': '파일 업로드 또는 끌어다 놓기'},
    'slot_rejected': {
        'en': 'The file was refused: it is larger than {mb} MB or not a PNG, JPEG or WEBP image.',
        'ko': '파일이 거부되었습니다. {mb} MB보다 크거나 PNG, JPEG, WEBP 이미지가 아닙니다.',
    },
    'strip_title': {
        'en': 'Your recent images (drag into the slot or tap)',
        'ko': '최근 이미지 (슬롯으로 끌어다 놓거나 탭하세요)',
    },
    'strip_empty': {'en': 'No images yet.', 'ko': '아직 이미지가 없습니다.'},
    'strip_tip': {'en': 'Drag into the input slot, or tap to use', 'ko': '입력 슬롯으로 끌어다 놓거나 탭해서 사용'},
    'kind_generated': {'en': 'Generated image', 'ko': '생성 이미지'},
    'kind_control': {'en': 'Control image', 'ko': '컨트롤 이미지'},
    'kind_input': {'en': 'Input image', 'ko': '입력 이미지'},
    'jobs_title': {'en': 'My jobs', 'ko': '내 작업'},
    'jobs_show_older': {'en': 'Show {n} older jobs', 'ko': '이전 작업 {n}개 더 보기'},
    'jobs_empty': {
        'en': 'No jobs yet: your jobs appear here.',
        'ko': '아직 작업이 없습니다. 작업이 여기에 표시됩니다.',
    },
    'job_status_queued': {'en': 'Queued', 'ko': '대기 중'},
    'job_status_dispatched': {'en': 'Starting', 'ko': '시작 중'},
    'job_status_running': {'en': 'Running', 'ko': '생성 중'},
    'job_status_saving': {'en': 'Saving', 'ko': '저장 중'},
    'job_status_completed': {'en': 'Done', 'ko': '완료'},
    'job_status_failed': {'en': 'Failed', 'ko': '실패'},
    'job_status_cancelled': {'en': 'Cancelled', 'ko': '취소됨'},
    'job_status_timed_out': {'en': 'Timed out', 'ko': '시간 초과'},
    'job_waiting_on_server': {
        'en': 'Waiting on the server (another job runs there first)',
        'ko': '서버에서 대기 중 (다른 작업이 먼저 실행 중)',
    },
    'job_status_deleted': {'en': 'Deleted', 'ko': '삭제됨'},
    'job_images_deleted': {
        'en': 'The images of this job were deleted.',
        'ko': '이 작업의 이미지는 삭제되었습니다.',
    },
    'job_some_deleted': {
        'en': '{n} image(s) of this job were deleted.',
        'ko': '이 작업의 이미지 {n}개가 삭제되었습니다.',
    },
    'job_position': {'en': 'Position {n} in the queue', 'ko': '대기 순서 {n}번'},
    'job_eta': {'en': 'about {time} left', 'ko': '약 {time} 남음'},
    'seconds': {'en': '{n} s', 'ko': '{n}초'},
    'job_cancel': {'en': 'Cancel this job', 'ko': '이 작업 취소'},
    'job_cancel_failed': {'en': 'This job can no longer be cancelled.', 'ko': '이 작업은 더 이상 취소할 수 없습니다.'},
    'job_retry': {'en': 'Retry', 'ko': '다시 실행'},
    'job_open_gallery': {'en': 'Open in gallery', 'ko': '갤러리에서 보기'},
    'job_preview': {'en': 'Live preview', 'ko': '실시간 미리보기'},
    'lightbox_download': {'en': 'Download', 'ko': '다운로드'},
    'lightbox_close': {'en': 'Close (Esc)', 'ko': '닫기 (Esc)'},
    'meta_prompt': {'en': 'Prompt', 'ko': '프롬프트'},
    'meta_negative': {'en': 'Negative', 'ko': '네거티브'},
    'meta_seed': {'en': 'Seed', 'ko': '시드'},
    'meta_size': {'en': 'Size', 'ko': '크기'},
    'meta_workflow': {'en': 'Workflow', 'ko': '워크플로우'},
    'meta_created': {'en': 'Created', 'ko': '생성 시각'},
    # gallery
    'gallery_title': {'en': 'Gallery', 'ko': '갤러리'},
    'gallery_empty': {'en': 'No images yet.', 'ko': '아직 이미지가 없습니다.'},
    'cmp_open': {'en': 'Compare with the input image', 'ko': '입력 이미지와 비교'},
    'cmp_before': {'en': 'Before (input)', 'ko': '이전 (입력)'},
    'cmp_after': {'en': 'After (result)', 'ko': '이후 (결과)'},
    'cmp_divider': {'en': 'Divider between input and result', 'ko': '입력과 결과 사이 구분선'},
    'cmp_hint': {
        'en': 'Drag the divider, or focus it and use the arrow keys.',
        'ko': '구분선을 끌거나, 선택한 뒤 화살표 키로 움직이세요.',
    },
    'gallery_count': {'en': '{count} image(s)', 'ko': '이미지 {count}개'},
    'gallery_count_capped': {'en': 'more than {count} images', 'ko': '이미지 {count}개 이상'},
    'inputs_title': {'en': 'Inputs', 'ko': '입력 보관함'},
    'inputs_empty': {'en': 'No input images yet.', 'ko': '아직 입력 이미지가 없습니다.'},
    'gal_view_active': {'en': 'Images', 'ko': '이미지'},
    'gal_view_trash': {'en': 'Trash', 'ko': '휴지통'},
    'gal_trash_empty': {'en': 'The trash is empty.', 'ko': '휴지통이 비어 있습니다.'},
    'gal_no_match': {'en': 'No images match these filters.', 'ko': '조건에 맞는 이미지가 없습니다.'},
    'gal_filters': {'en': 'Filters', 'ko': '필터'},
    'gal_search': {'en': 'Search prompts', 'ko': '프롬프트 검색'},
    'gal_from': {'en': 'From', 'ko': '시작일'},
    'gal_to': {'en': 'To', 'ko': '종료일'},
    'gal_aspect': {'en': 'Aspect ratio', 'ko': '비율'},
    'gal_workflow': {'en': 'Workflow', 'ko': '워크플로우'},
    'gal_tag': {'en': 'Tag', 'ko': '태그'},
    'gal_favorites': {'en': 'Favourites', 'ko': '즐겨찾기'},
    'gal_clear_filters': {'en': 'Clear filters', 'ko': '필터 지우기'},
    'gal_load_more': {'en': 'Load more', 'ko': '더 보기'},
    'gal_select': {'en': 'Select', 'ko': '선택'},
    'gal_selected': {'en': '{count} selected', 'ko': '{count}개 선택됨'},
    'gal_select_all': {'en': 'Select all shown', 'ko': '표시된 항목 모두 선택'},
    'gal_select_none': {'en': 'Clear selection', 'ko': '선택 해제'},
    'gal_delete': {'en': 'Delete', 'ko': '삭제'},
    'gal_restore': {'en': 'Restore', 'ko': '복원'},
    'gal_zip': {'en': 'Download ZIP', 'ko': 'ZIP 다운로드'},
    'gal_deleted': {'en': '{count} image(s) moved to the trash.', 'ko': '이미지 {count}개를 휴지통으로 옮겼습니다.'},
    'gal_restored': {'en': '{count} image(s) restored.', 'ko': '이미지 {count}개를 복원했습니다.'},
    'gal_trash_dates': {'en': 'Deleted {deleted}, removed {purge}', 'ko': '{deleted} 삭제, {purge} 영구 삭제'},
    'gal_trash_note': {
        'en': 'Images in the trash are removed for good {days} days after deletion.',
        'ko': '휴지통의 이미지는 삭제 후 {days}일이 지나면 영구히 지워집니다.',
    },
    'gal_failed': {'en': 'That did not work: {reason}', 'ko': '처리하지 못했습니다: {reason}'},
    'gal_quota': {'en': 'Storage quota reached: {reason}', 'ko': '저장 용량 한도에 도달했습니다: {reason}'},
    'lb_prev': {'en': 'Previous (←)', 'ko': '이전 (←)'},
    'lb_next': {'en': 'Next (→)', 'ko': '다음 (→)'},
    'lb_favorite': {'en': 'Favourite', 'ko': '즐겨찾기'},
    'lb_copy_prompt': {'en': 'Copy prompt', 'ko': '프롬프트 복사'},
    'lb_copied': {'en': 'Copied to the clipboard.', 'ko': '클립보드에 복사했습니다.'},
    'lb_use_input': {'en': 'Use as input', 'ko': '입력으로 사용'},
    'lb_used_input': {'en': 'Copied to your inputs library.', 'ko': '입력 보관함에 복사했습니다.'},
    'lb_again': {'en': 'Generate again with these settings', 'ko': '이 설정으로 다시 생성'},
    'lb_tags': {'en': 'Tags (Enter adds)', 'ko': '태그 (Enter로 추가)'},
    'lb_share': {'en': 'Share link', 'ko': '공유 링크'},
    'meta_aspect': {'en': 'Aspect ratio', 'ko': '비율'},
    'meta_mode': {'en': 'Mode', 'ko': '모드'},
    'meta_server': {'en': 'Server', 'ko': '서버'},
    'meta_file': {'en': 'File', 'ko': '파일'},
    'meta_kind': {'en': 'Kind', 'ko': '종류'},
    'meta_tags': {'en': 'Tags', 'ko': '태그'},
    'share_expiry': {'en': 'Valid for', 'ko': '유효 기간'},
    'share_1h': {'en': '1 hour', 'ko': '1시간'},
    'share_1d': {'en': '1 day', 'ko': '1일'},
    'share_7d': {'en': '7 days', 'ko': '7일'},
    'share_30d': {'en': '30 days', 'ko': '30일'},
    'share_create': {'en': 'Make link', 'ko': '링크 만들기'},
    'share_copy': {'en': 'Copy link', 'ko': '링크 복사'},
    'share_revoke': {'en': 'Revoke', 'ko': '해제'},
    'share_none': {'en': 'No links to this image yet.', 'ko': '이 이미지의 공유 링크가 없습니다.'},
    'share_state_active': {'en': 'active until {time}', 'ko': '{time}까지 유효'},
    'share_state_expired': {'en': 'expired {time}', 'ko': '{time}에 만료됨'},
    'share_state_revoked': {'en': 'revoked', 'ko': '해제됨'},
    'usage_images': {'en': '{n} images', 'ko': '이미지 {n}개'},
    'usage_images_of': {'en': '{n} of {max} images', 'ko': '이미지 {n}/{max}개'},
    'usage_bytes_of': {'en': '{used} of {max}', 'ko': '{used}/{max}'},
    'usage_label': {'en': 'Your storage: {text}', 'ko': '내 저장 공간: {text}'},
    'share_strip': {'en': 'Without prompt and settings', 'ko': '프롬프트와 설정 없이'},
    'share_strip_hint': {
        'en': 'Shares a copy without the prompt, seed, model and graph embedded in the file.',
        'ko': '파일에 들어 있는 프롬프트, 시드, 모델, 그래프를 뺀 사본을 공유합니다.',
    },
    'share_page_shared': {'en': 'A shared image', 'ko': '공유된 이미지'},
    'share_page_description': {'en': 'An image made with VCC.', 'ko': 'VCC로 만든 이미지입니다.'},
    'share_page_unknown': {
        'en': 'This share link does not exist. Check that it was copied whole.',
        'ko': '이 공유 링크는 존재하지 않습니다. 링크 전체가 복사되었는지 확인하세요.',
    },
    'share_page_revoked': {
        'en': 'This share link was turned off by its owner.',
        'ko': '이 공유 링크는 소유자가 해제했습니다.',
    },
    'share_page_expired': {
        'en': 'This share link expired on {time} UTC.',
        'ko': '이 공유 링크는 {time} UTC에 만료되었습니다.',
    },
    'share_page_image': {
        'en': 'The shared image is no longer available.',
        'ko': '공유된 이미지를 더 이상 볼 수 없습니다.',
    },
    'share_page_ask': {
        'en': 'Ask the person who sent it for a new link.',
        'ko': '보낸 사람에게 새 링크를 요청하세요.',
    },
    'share_made': {'en': 'Share link made and copied.', 'ko': '공유 링크를 만들어 복사했습니다.'},
    'inp_upload': {
        'en': 'Upload PNG, JPEG or WEBP (drop files here)',
        'ko': 'PNG, JPEG, WEBP 업로드 (여기에 끌어다 놓기)',
    },
    'inp_uploaded': {'en': '{name} added to your inputs.', 'ko': '{name}을(를) 입력 보관함에 추가했습니다.'},
    'inp_too_large': {
        'en': '{name}: the file is too large (at most {mb} MB).',
        'ko': '{name}: 파일이 너무 큽니다 (최대 {mb} MB).',
    },
    'inp_not_image': {
        'en': '{name}: not a readable PNG, JPEG or WEBP image.',
        'ko': '{name}: 읽을 수 있는 PNG, JPEG, WEBP 이미지가 아닙니다.',
    },
    'inp_type': {
        'en': '{name}: only PNG, JPEG and WEBP images are accepted.',
        'ko': '{name}: PNG, JPEG, WEBP 이미지만 올릴 수 있습니다.',
    },
    'inp_bomb': {
        'en': '{name}: the image has too many pixels to be processed safely.',
        'ko': '{name}: 이미지의 픽셀 수가 너무 많아 안전하게 처리할 수 없습니다.',
    },
    'inp_kind_all': {'en': 'All', 'ko': '전체'},
    # admin
    # admin: dashboard and logs
    'dash_health_ok': {'en': 'OK: every check passes', 'ko': 'OK: 모든 점검 정상'},
    'dash_health_fail': {'en': 'FAIL: {reasons}', 'ko': 'FAIL: {reasons}'},
    'dash_refresh': {'en': 'Run the checks again', 'ko': '점검 다시 실행'},
    'dash_checked_at': {'en': 'checked {time}', 'ko': '점검 {time}'},
    'dash_reachable': {'en': 'reachable', 'ko': '연결됨'},
    'dash_unreachable': {'en': 'not reachable', 'ko': '연결 안 됨'},
    'dash_server_load': {
        'en': 'queue {queue} · running {inflight}/{max}',
        'ko': '대기 {queue} · 실행 {inflight}/{max}',
    },
    'dash_vram': {'en': 'VRAM {free} of {total} GB free', 'ko': 'VRAM {total} GB 중 {free} GB 여유'},
    'dash_check_db': {'en': 'Database write', 'ko': 'DB 쓰기'},
    'dash_check_disk': {'en': 'Disk', 'ko': '디스크'},
    'dash_disk_value': {'en': '{free} MB free (minimum {min} MB)', 'ko': '{free} MB 여유 (최소 {min} MB)'},
    'dash_disk_s3': {'en': 'S3 object storage, writable', 'ko': 'S3 오브젝트 스토리지, 쓰기 가능'},
    'dash_disk_s3_down': {'en': 'S3 object storage cannot be written', 'ko': 'S3 오브젝트 스토리지에 쓸 수 없음'},
    'dash_fail_comfy': {'en': 'no ComfyUI server is reachable', 'ko': '연결 가능한 ComfyUI 서버 없음'},
    'dash_fail_db': {'en': 'the database cannot be written', 'ko': 'DB에 쓸 수 없음'},
    'dash_fail_disk': {'en': 'the disk is almost full', 'ko': '디스크 공간 부족'},
    'dash_queued': {'en': 'Queued', 'ko': '대기'},
    'dash_running': {'en': 'Running', 'ko': '실행 중'},
    'dash_done_hour': {'en': 'Done (1 h)', 'ko': '완료 (1시간)'},
    'dash_failed_hour': {'en': 'Failed (1 h)', 'ko': '실패 (1시간)'},
    'dash_durations': {'en': 'Average duration per workflow (24 h)', 'ko': '워크플로우별 평균 소요 시간 (24시간)'},
    'dash_no_durations': {
        'en': 'No completed jobs in the last 24 h.',
        'ko': '최근 24시간 동안 완료된 작업이 없습니다.',
    },
    'dash_chart_depth': {'en': 'Queue depth (24 h)', 'ko': '대기열 길이 (24시간)'},
    'dash_chart_hourly': {'en': 'Jobs per hour (24 h)', 'ko': '시간당 작업 수 (24시간)'},
    'dash_series_done': {'en': 'done', 'ko': '완료'},
    'dash_series_failed': {'en': 'failed', 'ko': '실패'},
    'dash_jobs': {'en': 'Jobs', 'ko': '작업'},
    'dash_by_user': {'en': 'By user', 'ko': '사용자별'},
    'dash_by_server': {'en': 'By server', 'ko': '서버별'},
    'dash_no_server': {'en': 'Waiting for a server', 'ko': '서버 배정 대기'},
    'dash_no_jobs': {
        'en': 'No jobs right now and none in the last hour.',
        'ko': '지금 진행 중이거나 최근 1시간 동안의 작업이 없습니다.',
    },
    'dash_section_finished': {'en': 'Finished in the last hour', 'ko': '최근 1시간 내 종료'},
    'dash_position': {'en': '#{n}', 'ko': '{n}번째'},
    'dash_cancel': {'en': 'Cancel this job', 'ko': '이 작업 취소'},
    'dash_front': {'en': 'Move to the front of the queue', 'ko': '대기열 맨 앞으로'},
    'dash_front_done': {'en': 'Moved to the front', 'ko': '맨 앞으로 옮겼습니다'},
    'dash_front_failed': {'en': 'The job is no longer waiting', 'ko': '이미 대기 중인 작업이 아닙니다'},
    'dash_cancel_failed': {
        'en': 'The job could not be cancelled (it has already ended)',
        'ko': '작업을 취소할 수 없습니다 (이미 종료됨)',
    },
    'dash_connected': {'en': 'Connected now', 'ko': '현재 접속'},
    'dash_nobody': {'en': 'Nobody else is connected.', 'ko': '다른 접속자가 없습니다.'},
    'dash_since': {'en': 'since {time}', 'ko': '{time}부터'},
    'dash_admin_badge': {'en': 'admin', 'ko': '관리자'},
    'logs_title': {'en': 'Log', 'ko': '로그'},
    'logs_job': {'en': 'Job id', 'ko': '작업 ID'},
    'logs_level': {'en': 'Minimum level', 'ko': '최소 레벨'},
    'logs_all': {'en': 'All levels', 'ko': '전체 레벨'},
    'logs_refresh': {'en': 'Refresh', 'ko': '새로고침'},
    'logs_auto': {'en': 'Refresh every 5 s', 'ko': '5초마다 새로고침'},
    'logs_empty': {'en': 'No matching log lines.', 'ko': '조건에 맞는 로그가 없습니다.'},
    'logs_off': {
        'en': 'Logging to a file is off (LOG_TO_FILE=false): only the console gets the log.',
        'ko': '파일 로그가 꺼져 있습니다 (LOG_TO_FILE=false). 로그는 콘솔에만 출력됩니다.',
    },
    'logs_source': {'en': '{count} line(s) from {path}', 'ko': '{path}에서 {count}줄'},
    # admin: login, servers, users, all images
    'admin_off_title': {'en': 'Admin pages are off', 'ko': '관리자 페이지가 꺼져 있습니다'},
    'admin_off_body': {
        'en': 'To turn them on, set ADMIN_PASSWORD (and optionally ADMIN_USER) in .env and restart the app.',
        'ko': '켜려면 .env에 ADMIN_PASSWORD(필요하면 ADMIN_USER도)를 설정하고 앱을 다시 시작하세요.',
    },
    'admin_login_title': {'en': 'Admin login', 'ko': '관리자 로그인'},
    'admin_user': {'en': 'User', 'ko': '사용자'},
    'admin_user_hint': {
        'en': 'ADMIN_USER of the server; "admin" unless set',
        'ko': '서버의 ADMIN_USER, 미설정 시 "admin"',
    },
    'admin_login_submit': {'en': 'Log in', 'ko': '로그인'},
    'admin_login_wrong': {'en': 'Wrong user or password.', 'ko': '사용자 또는 비밀번호가 틀렸습니다.'},
    'admin_logged_in': {'en': 'You are logged in as admin.', 'ko': '관리자로 로그인되어 있습니다.'},
    'admin_open': {'en': 'Open admin', 'ko': '관리자 열기'},
    'admin_logout': {'en': 'Log out', 'ko': '로그아웃'},
    'admin_tab_dashboard': {'en': 'Dashboard', 'ko': '대시보드'},
    'admin_tab_servers': {'en': 'Servers', 'ko': '서버'},
    'admin_tab_users': {'en': 'Users', 'ko': '사용자'},
    'admin_tab_images': {'en': 'All images', 'ko': '전체 이미지'},
    'admin_tab_logs': {'en': 'Logs', 'ko': '로그'},
    'admin_tab_studio': {'en': 'Workflow studio', 'ko': '워크플로우 스튜디오'},
    # workflow studio (admin)
    'studio_title': {'en': 'Workflow studio', 'ko': '워크플로우 스튜디오'},
    'studio_intro': {
        'en': "Paste or upload a ComfyUI workflow (API format or the editor's saved file), or open a saved mode.",
        'ko': 'ComfyUI 워크플로우(API 형식 또는 편집기 저장 파일)를 붙여넣거나 올리세요. 저장된 모드도 열 수 있습니다.',
    },
    'studio_paste': {'en': 'Workflow JSON', 'ko': '워크플로우 JSON'},
    'studio_upload': {'en': 'Upload a .json file', 'ko': '.json 파일 올리기'},
    'studio_convert_on': {'en': 'Convert with the nodes of', 'ko': '노드 정보를 가져올 서버'},
    'studio_import': {'en': 'Import', 'ko': '가져오기'},
    'studio_open': {'en': 'Saved workflow', 'ko': '저장된 워크플로우'},
    'studio_open_button': {'en': 'Open', 'ko': '열기'},
    'studio_imported': {'en': 'Imported {n} node(s).', 'ko': '노드 {n}개를 가져왔습니다.'},
    'studio_notes': {'en': 'What the conversion changed', 'ko': '변환하면서 바뀐 점'},
    'studio_empty': {
        'en': 'Import or open a workflow to start.',
        'ko': '워크플로우를 가져오거나 열어서 시작하세요.',
    },
    'studio_err_bad_json': {'en': 'This is not valid JSON ({reason}).', 'ko': '올바른 JSON이 아닙니다 ({reason}).'},
    'studio_err_not_a_workflow': {
        'en': 'This is neither a workflow file, an API-format graph nor a ComfyUI saved workflow. {reason}',
        'ko': '워크플로우 파일, API 형식 그래프, ComfyUI 저장 파일 중 어느 것도 아닙니다. {reason}',
    },
    'studio_err_convert': {'en': 'The file cannot be converted: {reason}', 'ko': '파일을 변환할 수 없습니다: {reason}'},
    'studio_err_no_server': {
        'en': 'Choose a reachable server: its node list is needed for this. {reason}',
        'ko': '연결된 서버를 고르세요. 그 서버의 노드 정보가 필요합니다. {reason}',
    },
    'studio_err_invalid': {
        'en': 'The workflow is not valid yet: {reason}',
        'ko': '워크플로우가 아직 올바르지 않습니다: {reason}',
    },
    'studio_err_bad_name': {'en': 'Not accepted: "{reason}".', 'ko': '받을 수 없는 값입니다: "{reason}".'},
    'studio_err_needs_image': {
        'en': 'A test run cannot supply an input image: save it and try it on the Generate page. {reason}',
        'ko': '테스트 실행은 입력 이미지를 넣을 수 없습니다. 저장한 뒤 생성 페이지에서 시험하세요. {reason}',
    },
    'studio_err_not_dispatching': {
        'en': 'This instance does not dispatch jobs (several instances share the queue), so it cannot test-run a '
        'draft. Save the workflow and try it from the Generate page, or use the studio on the dispatching instance.',
        'ko': '이 인스턴스는 작업을 배정하지 않으므로(여러 인스턴스가 대기열을 공유함) 초안을 테스트 실행할 수 '
        '없습니다. 워크플로우를 저장해 생성 페이지에서 시험하거나, 작업을 배정하는 인스턴스의 스튜디오를 쓰세요.',
    },
    'studio_err_submit': {'en': 'The test run was refused: {reason}', 'ko': '테스트 실행이 거절되었습니다: {reason}'},
    'studio_nodes': {'en': 'Nodes and inputs', 'ko': '노드와 입력'},
    'studio_nodes_hint': {
        'en': 'Tick an input to let users set it, and name it.',
        'ko': '사용자가 정할 입력에 체크하고 이름을 붙이세요.',
    },
    'studio_expose_as': {'en': 'As', 'ko': '용도'},
    'studio_as_param': {'en': 'Parameter', 'ko': '매개변수'},
    'studio_param_id': {'en': 'Id', 'ko': 'ID'},
    'studio_label_en': {'en': 'Label (English)', 'ko': '이름 (영어)'},
    'studio_label_ko': {'en': 'Label (Korean)', 'ko': '이름 (한국어)'},
    'studio_advanced': {'en': 'Advanced', 'ko': '고급'},
    'studio_min': {'en': 'Min', 'ko': '최소'},
    'studio_max': {'en': 'Max', 'ko': '최대'},
    'studio_step': {'en': 'Step', 'ko': '간격'},
    'studio_default': {'en': 'Default', 'ko': '기본값'},
    'studio_on': {'en': 'On', 'ko': '켜짐'},
    'studio_off': {'en': 'Off', 'ko': '꺼짐'},
    'studio_choices': {'en': 'Choices offered (empty: all the server has)', 'ko': '제공할 선택지 (비우면 서버의 전체)'},
    'studio_control': {'en': 'Control', 'ko': '입력 방식'},
    'studio_control_number': {'en': 'Number', 'ko': '숫자'},
    'studio_control_slider': {'en': 'Slider', 'ko': '슬라이더'},
    'studio_control_select': {'en': 'Select', 'ko': '선택'},
    'studio_control_toggle': {'en': 'Toggle', 'ko': '토글'},
    'studio_control_text': {'en': 'Text', 'ko': '한 줄 텍스트'},
    'studio_control_multiline': {'en': 'Multiline', 'ko': '여러 줄 텍스트'},
    'studio_output': {'en': 'Output node', 'ko': '출력 노드'},
    'studio_details': {'en': 'Mode', 'ko': '모드 정보'},
    'studio_id': {'en': 'File id (workflows/<id>.json)', 'ko': '파일 ID (workflows/<id>.json)'},
    'studio_title_en': {'en': 'Title (English)', 'ko': '제목 (영어)'},
    'studio_title_ko': {'en': 'Title (Korean)', 'ko': '제목 (한국어)'},
    'studio_desc_en': {'en': 'Description (English)', 'ko': '설명 (영어)'},
    'studio_desc_ko': {'en': 'Description (Korean)', 'ko': '설명 (한국어)'},
    'studio_mode': {'en': 'Mode name', 'ko': '모드 이름'},
    'studio_mode_label_en': {'en': 'Mode label (English)', 'ko': '모드 표시 이름 (영어)'},
    'studio_mode_label_ko': {'en': 'Mode label (Korean)', 'ko': '모드 표시 이름 (한국어)'},
    'studio_related': {'en': 'Linked modes (mode=workflow id, ...)', 'ko': '연결된 모드 (모드=워크플로우 ID, ...)'},
    'studio_sizes': {'en': 'Aspect ratios (name=WxH, ...)', 'ko': '화면 비율 (이름=가로x세로, ...)'},
    'studio_max_batch': {'en': 'Images per job (max)', 'ko': '작업당 최대 이미지 수'},
    'studio_defaults': {'en': 'Defaults', 'ko': '기본값'},
    'studio_default_prompt': {'en': 'Prompt', 'ko': '프롬프트'},
    'studio_default_negative': {'en': 'Negative prompt', 'ko': '네거티브 프롬프트'},
    'studio_default_ratio': {'en': 'Aspect ratio', 'ko': '화면 비율'},
    'studio_default_steps': {'en': 'Steps', 'ko': '스텝 수'},
    'studio_templates': {'en': 'Templates', 'ko': '템플릿'},
    'studio_template_add': {'en': 'Add a template', 'ko': '템플릿 추가'},
    'studio_template_remove': {'en': 'Remove', 'ko': '삭제'},
    'studio_check': {'en': 'Check on every server', 'ko': '서버별 확인'},
    'studio_check_ok': {'en': '{server}: runs here', 'ko': '{server}: 실행 가능'},
    'studio_check_bad': {'en': '{server}: cannot run here', 'ko': '{server}: 실행 불가'},
    'studio_no_servers': {'en': 'No server has answered yet.', 'ko': '아직 응답한 서버가 없습니다.'},
    'studio_test': {'en': 'Test run', 'ko': '테스트 실행'},
    'studio_test_on': {'en': 'Server', 'ko': '서버'},
    'studio_test_button': {'en': 'Run once', 'ko': '한 번 실행'},
    'studio_save': {'en': 'Review and save', 'ko': '확인 후 저장'},
    'studio_save_title': {'en': 'Changes to {file}', 'ko': '{file} 변경 내용'},
    'studio_save_unchanged': {'en': 'Nothing changed.', 'ko': '바뀐 내용이 없습니다.'},
    'studio_save_confirm': {'en': 'Save', 'ko': '저장'},
    'studio_saved': {
        'en': 'Saved {file}; every open tab shows it now.',
        'ko': '{file}을 저장했습니다. 열린 모든 탭에 바로 반영됩니다.',
    },
    'admin_cancel': {'en': 'Cancel', 'ko': '취소'},
    'admin_save': {'en': 'Save', 'ko': '저장'},
    'srv_title': {'en': 'ComfyUI servers', 'ko': 'ComfyUI 서버'},
    'srv_add': {'en': 'Add a server', 'ko': '서버 추가'},
    'srv_name': {'en': 'Name', 'ko': '이름'},
    'srv_url': {'en': 'Address', 'ko': '주소'},
    'srv_max': {'en': 'Max in flight', 'ko': '동시 실행 수'},
    'srv_test': {'en': 'Test connection', 'ko': '연결 테스트'},
    'srv_save_new': {'en': 'Add server', 'ko': '서버 추가'},
    'srv_need_url': {'en': 'Enter an address first.', 'ko': '먼저 주소를 입력하세요.'},
    'srv_test_ok': {
        'en': 'Reachable: ComfyUI {version}\nDevices: {devices}',
        'ko': '연결됨: ComfyUI {version}\n장치: {devices}',
    },
    'srv_test_fail': {'en': 'Not reachable: {error}', 'ko': '연결 실패: {error}'},
    'srv_added': {'en': 'Server {name} added', 'ko': '서버 {name}을(를) 추가했습니다'},
    'srv_none': {'en': 'No server is configured.', 'ko': '설정된 서버가 없습니다.'},
    'srv_simulated': {'en': 'simulator', 'ko': '시뮬레이터'},
    'srv_enabled': {'en': 'Enabled', 'ko': '사용'},
    'srv_load': {'en': 'Running', 'ko': '실행 중'},
    'srv_queue': {'en': 'ComfyUI queue', 'ko': 'ComfyUI 대기열'},
    'srv_vram': {'en': 'VRAM free', 'ko': 'VRAM 여유'},
    'srv_edit': {'en': 'Edit', 'ko': '편집'},
    'srv_remove': {'en': 'Remove', 'ko': '삭제'},
    'srv_history': {'en': 'Last {n} jobs', 'ko': '최근 작업 {n}개'},
    'srv_no_history': {'en': 'No jobs ran on this server yet.', 'ko': '이 서버에서 실행된 작업이 없습니다.'},
    'srv_status_ok': {'en': 'reachable', 'ko': '정상'},
    'srv_status_down': {'en': 'down', 'ko': '연결 안 됨'},
    'srv_status_disabled': {'en': 'disabled', 'ko': '사용 안 함'},
    'srv_status_draining': {'en': 'draining', 'ko': '마무리 중'},
    'srv_draining': {
        'en': 'Disabled: {n} running job(s) finish first, nothing new is sent.',
        'ko': '사용 중지: 실행 중인 작업 {n}개는 끝까지 실행되고, 새 작업은 보내지 않습니다.',
    },
    'srv_edit_title': {'en': 'Edit {name}', 'ko': '{name} 편집'},
    'srv_saved': {'en': 'Server saved', 'ko': '서버를 저장했습니다'},
    'srv_remove_title': {'en': 'Remove {name}?', 'ko': '{name}을(를) 삭제할까요?'},
    'srv_remove_body': {
        'en': 'Its job history stays. A server listed in COMFYUI_SERVERS comes back at the next '
        'start: remove it there too.',
        'ko': '작업 기록은 남습니다. COMFYUI_SERVERS에 있는 서버는 다음 시작 때 다시 추가되니 그곳에서도 지우세요.',
    },
    'srv_removed': {'en': 'Server {name} removed', 'ko': '서버 {name}을(를) 삭제했습니다'},
    'srv_err_name': {
        'en': 'A server needs a name of 1 to 100 characters.',
        'ko': '서버 이름은 1~100자여야 합니다.',
    },
    'srv_err_url': {
        'en': '{url} is not a ComfyUI address like http://host:8188 (http or https, a host, no spaces or control '
        'characters)',
        'ko': '{url}은(는) http://host:8188 형식의 ComfyUI 주소가 아닙니다 '
        '(http 또는 https, 호스트 필요, 공백·제어 문자 불가)',
    },
    'srv_err_dup_name': {'en': 'A server named {name} exists already.', 'ko': '{name} 이름의 서버가 이미 있습니다.'},
    'srv_err_dup_url': {'en': '{url} is already server {name}.', 'ko': '{url}은(는) 이미 서버 {name}입니다.'},
    'srv_err_sim_url': {
        'en': "The bundled simulator's address is managed by the app.",
        'ko': '내장 시뮬레이터의 주소는 앱이 관리합니다.',
    },
    'srv_err_busy_move': {
        'en': '{name} still runs {n} job(s): disable it, wait until they finish, then change its address.',
        'ko': '{name}에서 작업 {n}개가 실행 중입니다. 사용을 끄고 작업이 끝난 뒤 주소를 바꾸세요.',
    },
    'srv_err_busy_remove': {
        'en': '{name} still runs {n} job(s): disable it, wait until they finish, then remove it.',
        'ko': '{name}에서 작업 {n}개가 실행 중입니다. 사용을 끄고 작업이 끝난 뒤 삭제하세요.',
    },
    'srv_err_not_found': {'en': 'No such server.', 'ko': '그런 서버가 없습니다.'},
    'srv_err_env_field': {
        'en': 'This server comes from .env: change its address in COMFYUI_SERVERS and its slots in '
        'SERVER_MAX_INFLIGHT, '
        'then restart the app.',
        'ko': '이 서버는 .env에서 왔습니다. 주소는 COMFYUI_SERVERS, 동시 실행 수는 SERVER_MAX_INFLIGHT에서 바꾸고 '
        '앱을 다시 시작하세요.',
    },
    'srv_err_sim_off': {
        'en': 'The bundled simulator is not running: it starts only when no other server is enabled.',
        'ko': '내장 시뮬레이터가 실행 중이 아닙니다. 사용 중인 다른 서버가 없을 때만 시작됩니다.',
    },
    'srv_source_env': {
        'en': 'Address and max in flight from .env (COMFYUI_SERVERS, SERVER_MAX_INFLIGHT); name and on/off from this '
        'page',
        'ko': '주소와 동시 실행 수는 .env(COMFYUI_SERVERS, SERVER_MAX_INFLIGHT), 이름과 사용 여부는 이 페이지 설정',
    },
    'srv_source_admin': {
        'en': 'Every value from this page (added by an admin)',
        'ko': '모든 값은 이 페이지 설정 (관리자가 추가)',
    },
    'srv_source_sim': {
        'en': 'Bundled simulator: address set by the app; on only while no other server is enabled',
        'ko': '내장 시뮬레이터: 주소는 앱이 정하며, 사용 중인 다른 서버가 없을 때만 켜집니다',
    },
    'srv_env_badge': {'en': '.env', 'ko': '.env'},
    'srv_admin_badge': {'en': 'admin', 'ko': '관리자'},
    'srv_skipped': {
        'en': 'Stored server {name} was skipped at start: {url} is not a usable address. Remove it and add it again '
        'with a correct address.',
        'ko': '저장된 서버 {name}을(를) 시작할 때 건너뛰었습니다: {url}은(는) 쓸 수 없는 주소입니다. '
        '삭제한 뒤 올바른 주소로 다시 추가하세요.',
    },
    'usr_title': {'en': 'Users', 'ko': '사용자'},
    'usr_count': {'en': '{n} users', 'ko': '{n}명'},
    'usr_search': {'en': 'Search id or name', 'ko': 'ID 또는 이름 검색'},
    'usr_none': {'en': 'No users yet.', 'ko': '아직 사용자가 없습니다.'},
    'usr_anonymous': {'en': '(no name)', 'ko': '(이름 없음)'},
    'usr_blocked': {'en': 'blocked', 'ko': '차단됨'},
    'usr_block': {'en': 'Block', 'ko': '차단'},
    'usr_unblock': {'en': 'Unblock', 'ko': '차단 해제'},
    'usr_edit': {'en': 'Edit', 'ko': '편집'},
    'usr_signout_beta': {'en': 'Sign out all beta testers', 'ko': '모든 베타 테스터 로그아웃'},
    'usr_signout_beta_confirm': {
        'en': 'Every beta tester is signed out and must enter the beta password again. Continue?',
        'ko': '모든 베타 테스터가 로그아웃되며 베타 비밀번호를 다시 입력해야 합니다. 계속할까요?',
    },
    'usr_signout_beta_done': {'en': '{n} beta sessions signed out.', 'ko': '베타 세션 {n}개를 로그아웃했습니다.'},
    'usr_jobs': {'en': '{n} jobs', 'ko': '작업 {n}개'},
    'usr_images': {'en': '{n} images ({trash} in trash)', 'ko': '이미지 {n}개 (휴지통 {trash}개)'},
    'usr_first': {'en': 'first seen {when}', 'ko': '처음 접속 {when}'},
    'usr_last': {'en': 'last seen {when}', 'ko': '마지막 접속 {when}'},
    'usr_quota_images': {'en': '{used} of {max} images', 'ko': '이미지 {used}/{max}개'},
    'usr_quota_bytes': {'en': '{used} of {max}', 'ko': '{used}/{max}'},
    'usr_no_limit': {'en': 'no quota', 'ko': '용량 제한 없음'},
    'usr_edit_title': {'en': 'Edit user', 'ko': '사용자 편집'},
    'usr_display_name': {'en': 'Display name', 'ko': '표시 이름'},
    'usr_quota_hint': {
        'en': 'Quota for this user; leave empty for the default, 0 means unlimited.',
        'ko': '이 사용자의 용량 제한입니다. 비워 두면 기본값, 0은 무제한입니다.',
    },
    'usr_max_mb': {'en': 'Max MB', 'ko': '최대 MB'},
    'usr_max_images': {'en': 'Max images', 'ko': '최대 이미지 수'},
    'usr_saved': {'en': 'User saved', 'ko': '사용자를 저장했습니다'},
    'img_title': {'en': 'All images', 'ko': '전체 이미지'},
    'img_total': {'en': '{n} images', 'ko': '{n}개'},
    'img_total_capped': {'en': 'more than {n} images', 'ko': '{n}개 이상'},
    'img_none': {'en': 'No images match these filters.', 'ko': '조건에 맞는 이미지가 없습니다.'},
    'img_user': {'en': 'User', 'ko': '사용자'},
    'img_all_users': {'en': 'All users', 'ko': '모든 사용자'},
    'img_active': {'en': 'Active', 'ko': '보관 중'},
    'img_trash': {'en': 'Trash', 'ko': '휴지통'},
    'img_all': {'en': 'All', 'ko': '전체'},
    'img_from': {'en': 'From', 'ko': '시작일'},
    'img_to': {'en': 'To', 'ko': '종료일'},
    'img_kind_generated': {'en': 'generated', 'ko': '생성'},
    'img_kind_input': {'en': 'input', 'ko': '입력'},
    'img_kind_control': {'en': 'control', 'ko': '컨트롤'},
    'img_delete': {'en': 'Move to trash', 'ko': '휴지통으로 이동'},
    'img_restore': {'en': 'Restore', 'ko': '복구'},
    'img_purge': {'en': 'Purge trash', 'ko': '휴지통 비우기'},
    'img_purge_title': {'en': 'Purge the trash for good?', 'ko': '휴지통을 영구 삭제할까요?'},
    'img_purge_days': {'en': 'Trashed more than (days) ago', 'ko': '휴지통에 들어간 지 (일) 이상'},
    'img_purge_summary': {
        'en': '{n} image files ({size}) trashed more than {days} days ago will be deleted for good. '
        'This cannot be undone.',
        'ko': '휴지통에 들어간 지 {days}일이 넘은 이미지 파일 {n}개 ({size})가 영구 삭제됩니다. 되돌릴 수 없습니다.',
    },
    'img_purge_confirm': {'en': 'Delete for good', 'ko': '영구 삭제'},
    'img_purged': {'en': 'Purged {n} images ({size})', 'ko': '이미지 {n}개 ({size})를 영구 삭제했습니다'},
    # lora
    'lora_title': {'en': 'LoRAs', 'ko': 'LoRA 관리'},
    'lora_server': {'en': 'Server', 'ko': '서버'},
    'lora_sync': {'en': 'Sync', 'ko': '동기화'},
    'lora_search': {'en': 'Search name, trigger word, tag', 'ko': '이름, 트리거 워드, 태그 검색'},
    'lora_base_model': {'en': 'Base model', 'ko': '베이스 모델'},
    'lora_tag': {'en': 'Tag', 'ko': '태그'},
    'lora_match': {'en': 'Match', 'ko': '매칭'},
    'lora_all': {'en': 'All', 'ko': '전체'},
    'lora_matched': {'en': 'On Civitai', 'ko': 'Civitai 매칭됨'},
    'lora_unmatched': {'en': 'Not on Civitai', 'ko': 'Civitai에 없음'},
    'lora_unhashed': {'en': 'Not hashed', 'ko': '해시 없음'},
    'lora_none': {
        'en': 'No LoRAs here yet. Press Sync to read them from the server.',
        'ko': '아직 LoRA가 없습니다. 동기화를 눌러 서버에서 읽어 오세요.',
    },
    'lora_node_missing': {
        'en': 'The VCC LoRA hash node is not installed on this server: new or changed LoRAs are listed without '
        'hashes or Civitai data, and hashes from earlier syncs are kept but unverified.',
        'ko': '이 서버에 VCC LoRA 해시 노드가 설치되어 있지 않아 새로 추가되거나 바뀐 LoRA는 해시와 Civitai 정보 없이 '
        '표시되고, 이전 동기화의 해시는 유지되지만 확인되지 않은 상태입니다.',
    },
    'lora_node_install': {
        'en': 'Copy the comfy_node folder into ComfyUI/custom_nodes/vcc_lora_hash and restart '
        'ComfyUI; then sync again.',
        'ko': 'comfy_node 폴더를 ComfyUI/custom_nodes/vcc_lora_hash 로 복사하고 ComfyUI를 다시 '
        '시작한 뒤 다시 동기화하세요.',
    },
    'lora_stage_idle': {'en': 'Never synced', 'ko': '동기화 전'},
    'lora_stage_listing': {'en': 'Listing', 'ko': '목록 조회'},
    'lora_stage_checking_node': {'en': 'Checking node', 'ko': '노드 확인'},
    'lora_stage_hashing': {'en': 'Hashing', 'ko': '해시 계산'},
    'lora_stage_fetching_metadata': {'en': 'Fetching Civitai data', 'ko': 'Civitai 정보 조회'},
    'lora_stage_done': {'en': 'Synced', 'ko': '동기화 완료'},
    'lora_stage_error': {'en': 'Sync failed', 'ko': '동기화 실패'},
    'lora_counts': {
        'en': '{count} LoRAs · {hashed} hashed · {matched} on Civitai · {not_found} not on Civitai',
        'ko': 'LoRA {count}개 · 해시 {hashed}개 · Civitai 매칭 {matched}개 · Civitai에 없음 {not_found}개',
    },
    'lora_copied': {'en': 'Copied "{word}"', 'ko': '"{word}" 복사됨'},
    'lora_diff': {'en': 'Which server has which LoRA', 'ko': '서버별 LoRA 비교'},
    'lora_diff_same': {'en': 'Every server has the same LoRAs.', 'ko': '모든 서버의 LoRA가 같습니다.'},
    'lora_picker': {'en': 'LoRA', 'ko': 'LoRA'},
    'lora_picker_none': {'en': 'No LoRA', 'ko': 'LoRA 없음'},
    'lora_trigger_added': {'en': 'Trigger words added to the prompt', 'ko': '트리거 워드를 프롬프트에 추가했습니다'},
    'lora_strength': {'en': 'Strength', 'ko': '강도'},
    # lora sync: metadata pending (Civitai not asked yet)
    'lora_pending': {'en': 'Metadata pending', 'ko': '메타데이터 대기'},
    'lora_pending_tip': {
        'en': 'Civitai was not asked about this hash yet; it is looked up by itself once Civitai answers.',
        'ko': '아직 Civitai에 이 해시를 조회하지 못했습니다. Civitai가 응답하면 자동으로 조회합니다.',
    },
    'lora_counts_pending': {
        'en': '{pending} metadata pending, asked again automatically',
        'ko': '메타데이터 대기 {pending}개, 자동으로 다시 조회',
    },
    'lora_metadata_pending_unreachable': {
        'en': 'metadata pending (Civitai unreachable)',
        'ko': '메타데이터 대기 (Civitai 연결 안 됨)',
    },
    'lora_unverified': {'en': 'Hash unverified', 'ko': '해시 미확인'},
    'lora_node_missing_short': {'en': 'Hash node not installed', 'ko': '해시 노드가 설치되지 않음'},
    'lora_unverified_tip': {
        'en': 'This hash is from an earlier sync; the hash node did not check it in the last one (file may have '
        'changed).',
        'ko': '이전 동기화에서 계산한 해시입니다. 마지막 동기화에서 해시 노드가 확인하지 않았습니다(파일이 바뀌었을 수 '
        '있음).',
    },
    'lora_counts_unverified': {
        'en': '{unverified} hashes unverified (kept from earlier syncs)',
        'ko': '확인되지 않은 해시 {unverified}개 (이전 동기화에서 유지)',
    },
    'lora_metadata_pending_refused': {
        'en': 'metadata pending (Civitai refused the request)',
        'ko': '메타데이터 대기 (Civitai가 요청을 거부함)',
    },
    # prompt helper (LLM)
    'llm_translate': {'en': 'Translate to English', 'ko': '영어로 번역'},
    'llm_improve': {'en': 'Improve', 'ko': '다듬기'},
    'llm_translate_hint': {
        'en': 'Ask the language model for an English version of this prompt',
        'ko': '언어 모델에게 이 프롬프트의 영어 번역을 요청합니다',
    },
    'llm_improve_hint': {
        'en': "Ask the language model to add detail in this workflow's style",
        'ko': '언어 모델에게 이 워크플로우 스타일로 묘사를 더해 달라고 요청합니다',
    },
    'llm_suggestion': {'en': 'Suggestion', 'ko': '제안'},
    'llm_suggestion_negative': {'en': 'Suggested negative prompt', 'ko': '제안된 네거티브 프롬프트'},
    'llm_streaming': {'en': 'Writing…', 'ko': '작성 중…'},
    'llm_accept': {'en': 'Use it', 'ko': '적용'},
    'llm_discard': {'en': 'Discard', 'ko': '버리기'},
    'llm_stop': {'en': 'Stop', 'ko': '중지'},
    'llm_stopped': {
        'en': 'Stopped. You can still use what was written.',
        'ko': '중지했습니다. 작성된 내용은 적용할 수 있습니다.',
    },
    'llm_accepted': {
        'en': 'Suggestion applied; the original is kept with the image.',
        'ko': '제안을 적용했습니다. 원래 프롬프트는 이미지 정보에 함께 저장됩니다.',
    },
    'llm_error_off': {'en': 'The prompt helper is not configured.', 'ko': '프롬프트 도우미가 설정되어 있지 않습니다.'},
    'llm_error_empty': {'en': 'Write a prompt first.', 'ko': '먼저 프롬프트를 입력하세요.'},
    'llm_error_too_long': {
        'en': 'The prompt is too long for the helper ({max} characters at most).',
        'ko': '프롬프트가 너무 길어 도우미가 처리할 수 없습니다 (최대 {max}자).',
    },
    'llm_error_unreachable': {
        'en': 'The prompt helper is not reachable right now. You can still generate.',
        'ko': '지금은 프롬프트 도우미에 연결할 수 없습니다. 생성은 그대로 할 수 있습니다.',
    },
    'llm_error_unauthorized': {
        'en': 'The prompt helper refused the request (access key). Please tell the admin.',
        'ko': '프롬프트 도우미가 요청을 거부했습니다 (접근 키). 관리자에게 알려 주세요.',
    },
    'llm_error_rate_limited': {
        'en': 'Too many suggestions for now. Try again in a moment.',
        'ko': '요청이 너무 많습니다. 잠시 후 다시 시도하세요.',
    },
    'llm_error_rate_limited_wait': {
        'en': 'Too many suggestions for now. Try again in {seconds} s.',
        'ko': '요청이 너무 많습니다. {seconds}초 후에 다시 시도하세요.',
    },
    'llm_error_bad_stream': {
        'en': 'The prompt helper gave an unreadable answer. Try again.',
        'ko': '프롬프트 도우미의 응답을 읽을 수 없습니다. 다시 시도하세요.',
    },
    'llm_error_timeout': {
        'en': 'The prompt helper took too long to answer. Try again.',
        'ko': '프롬프트 도우미의 응답이 너무 늦습니다. 다시 시도하세요.',
    },
    'llm_error_server_error': {
        'en': 'The prompt helper had an error. Try again later.',
        'ko': '프롬프트 도우미에 오류가 발생했습니다. 나중에 다시 시도하세요.',
    },
    'meta_prompt_original': {'en': 'Original prompt', 'ko': '원래 프롬프트'},
    'meta_negative_original': {'en': 'Original negative', 'ko': '원래 네거티브'},
    'meta_llm_action': {'en': 'Prompt helper', 'ko': '프롬프트 도우미'},
    'meta_llm_translate': {'en': 'translated', 'ko': '번역'},
    'meta_llm_improve': {'en': 'improved', 'ko': '다듬기'},
    'meta_llm_negative': {'en': 'negative {action}', 'ko': '네거티브 {action}'},
    'dash_check_llm': {'en': 'Prompt helper', 'ko': '프롬프트 도우미'},
    'dash_llm_ok': {'en': '{model}, {ms} ms', 'ko': '{model}, {ms} ms'},
    'dash_llm_off': {'en': 'off (LLM_BASE_URL not set)', 'ko': '꺼짐 (LLM_BASE_URL 미설정)'},
    'dash_fail_llm': {'en': 'the prompt helper is not reachable', 'ko': '프롬프트 도우미에 연결할 수 없음'},
    'dash_chart_llm': {'en': 'Prompt helper per hour (24 h)', 'ko': '시간당 프롬프트 도우미 사용 (24시간)'},
    'dash_series_llm_uses': {'en': 'uses', 'ko': '사용'},
    'dash_series_llm_failures': {'en': 'failures', 'ko': '실패'},
    # wave 2 admin: usage, nicknames, dashboard paging and filters, LoRA help
    'usr_jobs_done': {'en': '{n} done', 'ko': '완료 {n}개'},
    'usr_gpu_time': {'en': 'GPU time {time}', 'ko': 'GPU 사용 시간 {time}'},
    'dur_seconds': {'en': '{s} s', 'ko': '{s}초'},
    'dur_minutes': {'en': '{m} min {s} s', 'ko': '{m}분 {s}초'},
    'dur_hours': {'en': '{h} h {m} min', 'ko': '{h}시간 {m}분'},
    'dash_filter_all': {'en': 'All', 'ko': '전체'},
    'dash_filter_by_status': {'en': 'Status', 'ko': '상태'},
    'dash_filter_by_user': {'en': 'User', 'ko': '사용자'},
    'dash_filter_by_server': {'en': 'Server', 'ko': '서버'},
    'dash_filter_by_workflow': {'en': 'Workflow', 'ko': '워크플로우'},
    'dash_filter_queued': {'en': 'Queued', 'ko': '대기'},
    'dash_filter_running': {'en': 'Running', 'ko': '실행 중'},
    'dash_filter_completed': {'en': 'Done', 'ko': '완료'},
    'dash_filter_failed': {'en': 'Failed or timed out', 'ko': '실패 또는 시간 초과'},
    'dash_filter_cancelled': {'en': 'Cancelled', 'ko': '취소됨'},
    'dash_jobs_shown': {'en': '{n} of {total} jobs match', 'ko': '작업 {total}개 중 {n}개 일치'},
    'dash_cancel_title': {'en': 'Cancel this job?', 'ko': '이 작업을 취소할까요?'},
    'dash_cancel_body': {
        'en': '{workflow} of {user}. A running job is stopped on its server; this cannot be undone.',
        'ko': '{user}의 {workflow} 작업입니다. 실행 중이면 서버에서 중단되며 되돌릴 수 없습니다.',
    },
    'dash_cancel_keep': {'en': 'Keep it', 'ko': '그대로 두기'},
    'dash_cancel_confirm': {'en': 'Cancel the job', 'ko': '작업 취소'},
    'lora_browse': {'en': 'Browse LoRAs with previews', 'ko': '미리보기와 함께 LoRA 보기'},
    'lora_browse_title': {'en': 'Choose a LoRA', 'ko': 'LoRA 선택'},
    'lora_browse_base': {'en': 'This workflow uses {base}.', 'ko': '이 워크플로우의 기본 모델: {base}'},
    'lora_choose': {'en': 'Use', 'ko': '사용'},
    'lora_no_triggers': {'en': 'no trigger words', 'ko': '트리거 워드 없음'},
    'lora_mismatch': {
        'en': 'Made for {lora}; this workflow uses {workflow}: results may be poor.',
        'ko': '{lora}용 LoRA입니다. 이 워크플로우는 {workflow} 기반이라 결과가 좋지 않을 수 있습니다.',
    },
    'nick_button': {'en': 'Nickname', 'ko': '닉네임'},
    'nick_title': {'en': 'Your nickname', 'ko': '내 닉네임'},
    'nick_hint': {
        'en': 'Shown to the admins instead of your anonymous id. Leave empty to remove it.',
        'ko': '관리자에게 익명 ID 대신 표시됩니다. 비워 두면 지워집니다.',
    },
    'nick_label': {'en': 'Nickname (up to 30 characters)', 'ko': '닉네임 (최대 30자)'},
    'nick_saved': {'en': 'Nickname saved', 'ko': '닉네임을 저장했습니다'},
    'nick_cleared': {'en': 'Nickname removed', 'ko': '닉네임을 지웠습니다'},
    'nick_too_long': {'en': 'A nickname has at most 30 characters.', 'ko': '닉네임은 최대 30자입니다.'},
    'nick_bad_chars': {
        'en': 'A nickname cannot contain control or direction characters.',
        'ko': '닉네임에는 제어 문자나 방향 문자를 쓸 수 없습니다.',
    },
    'nick_reserved': {
        'en': 'A nickname cannot look like an anonymous id.',
        'ko': '닉네임은 익명 ID처럼 보일 수 없습니다.',
    },
    # personal API tokens: the page, refusals of the token API, answers to a token that does not work
    'tok_title': {'en': 'API tokens', 'ko': 'API 토큰'},
    'tok_intro': {
        'en': 'A script that sends "Authorization: Bearer <token>" to /api/v1 acts as you. '
        'Keep tokens secret and revoke the ones you no longer use.',
        'ko': '"Authorization: Bearer <토큰>" 헤더를 /api/v1에 보내는 스크립트는 내 계정으로 동작합니다. '
        '토큰은 비밀로 지키고, 쓰지 않는 토큰은 폐기하세요.',
    },
    'tok_name': {'en': 'Name', 'ko': '이름'},
    'tok_name_hint': {'en': 'What the token is for, e.g. "nightly batch"', 'ko': '토큰 용도, 예: "야간 일괄 생성"'},
    'tok_expiry': {'en': 'Expires', 'ko': '만료'},
    'tok_expiry_never': {'en': 'Never', 'ko': '만료 없음'},
    'tok_expiry_days': {'en': 'After {n} days', 'ko': '{n}일 후'},
    'tok_admin': {'en': 'Admin access (reaches the admin API)', 'ko': '관리자 권한 (관리자 API 사용 가능)'},
    'tok_create': {'en': 'Create token', 'ko': '토큰 만들기'},
    'tok_created_title': {'en': 'Your new token "{name}"', 'ko': '새 토큰 "{name}"'},
    'tok_created_once': {
        'en': 'Copy it now: it is shown only this once and cannot be looked up later.',
        'ko': '지금 복사하세요. 이 토큰은 이번 한 번만 보이며 나중에 다시 볼 수 없습니다.',
    },
    'tok_copy': {'en': 'Copy', 'ko': '복사'},
    'tok_copied': {'en': 'Token copied to the clipboard.', 'ko': '토큰을 클립보드에 복사했습니다.'},
    'tok_done': {'en': 'Done', 'ko': '확인'},
    'tok_empty': {'en': 'No tokens yet.', 'ko': '아직 토큰이 없습니다.'},
    'tok_created_at': {'en': 'Created {when}', 'ko': '만든 날 {when}'},
    'tok_last_used': {'en': 'Last used {when}', 'ko': '마지막 사용 {when}'},
    'tok_never_used': {'en': 'Never used', 'ko': '사용한 적 없음'},
    'tok_expires_at': {'en': 'Expires {when}', 'ko': '만료 {when}'},
    'tok_no_expiry': {'en': 'Does not expire', 'ko': '만료 없음'},
    'tok_expired_at': {'en': 'Expired {when}', 'ko': '{when}에 만료됨'},
    'tok_admin_badge': {'en': 'admin', 'ko': '관리자'},
    'tok_revoke': {'en': 'Revoke', 'ko': '폐기'},
    'tok_revoke_confirm': {
        'en': 'Revoke the token "{name}"? Scripts that use it stop working at once.',
        'ko': '토큰 "{name}"을(를) 폐기할까요? 이 토큰을 쓰는 스크립트는 바로 동작을 멈춥니다.',
    },
    'tok_revoked': {'en': 'Token "{name}" revoked.', 'ko': '토큰 "{name}"을(를) 폐기했습니다.'},
    'tok_cancel': {'en': 'Cancel', 'ko': '취소'},
    'token_name_missing': {'en': 'Give the token a name.', 'ko': '토큰 이름을 입력하세요.'},
    'token_name_too_long': {
        'en': 'A token name has at most 60 characters.',
        'ko': '토큰 이름은 60자까지 쓸 수 있습니다.',
    },
    'token_name_bad_chars': {
        'en': 'A token name cannot contain control or direction characters.',
        'ko': '토큰 이름에는 제어 문자나 방향 문자를 쓸 수 없습니다.',
    },
    'token_bad_expiry': {
        'en': 'A token expires after 1 to 365 days, or never.',
        'ko': '토큰 만료는 1일에서 365일 사이이거나 없음이어야 합니다.',
    },
    'token_too_many': {
        'en': 'You have 20 tokens already. Revoke one you no longer use first.',
        'ko': '토큰이 이미 20개 있습니다. 쓰지 않는 토큰을 먼저 폐기하세요.',
    },
    'token_create_limited': {
        'en': 'You made 10 tokens within the last hour. Try again later.',
        'ko': '최근 한 시간 동안 토큰을 10개 만들었습니다. 나중에 다시 시도하세요.',
    },
    'token_not_found': {'en': 'No such token.', 'ko': '그런 토큰이 없습니다.'},
    'token_unavailable': {
        'en': 'The token could not be stored. Try again later.',
        'ko': '토큰을 저장하지 못했습니다. 나중에 다시 시도하세요.',
    },
    'token_by_token': {
        'en': 'A token cannot make tokens: sign in and use the API tokens page.',
        'ko': '토큰으로는 토큰을 만들 수 없습니다. 로그인한 뒤 API 토큰 페이지를 쓰세요.',
    },
    'token_admin_only': {
        'en': 'Only a signed-in admin can make a token with admin access.',
        'ko': '관리자 권한 토큰은 로그인한 관리자만 만들 수 있습니다.',
    },
    'token_malformed': {
        'en': 'The Authorization header carries no VCC UI token (expected "Bearer vcc_...").',
        'ko': 'Authorization 헤더에 VCC UI 토큰이 없습니다 ("Bearer vcc_..." 형식이어야 합니다).',
    },
    'token_unknown': {'en': 'Unknown API token.', 'ko': '알 수 없는 API 토큰입니다.'},
    'token_revoked': {'en': 'This API token was revoked.', 'ko': '폐기된 API 토큰입니다.'},
    'token_expired': {'en': 'This API token expired at {at}.', 'ko': '이 API 토큰은 {at}에 만료되었습니다.'},
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
    """Return the string `key` in `lang`, formatted with `fmt` (a value given per language, {'en', 'ko'}, in `lang`)."""
    text = STRINGS[key].get(lang) or STRINGS[key][DEFAULT_LANGUAGE]
    return text.format(**{name: _in_language(value, lang) for name, value in fmt.items()}) if fmt else text


def _in_language(value: object, lang: str) -> object:
    if isinstance(value, dict) and DEFAULT_LANGUAGE in value:
        return value.get(lang) or value[DEFAULT_LANGUAGE]
    return value


PAGE_LANGUAGE = 'lang'  # the key in the client's own storage that remembers the language its page was built in


def language() -> str:
    """Return this browser's language: its choice, else what its Accept-Language prefers.

    Service events reach a page inside its slot but outside any request, where the browser's storage cannot be
    read; there the language the page was built in answers.
    """
    try:
        storage = app.storage.user
    except RuntimeError:
        client = context.client
        if (remembered := client.storage.get(PAGE_LANGUAGE)) in LANGUAGES:
            return remembered
        return best_language(client.request.headers.get('accept-language') if client.request else None)
    lang = storage.get('lang')
    if lang not in LANGUAGES:
        lang = best_language(context.client.request.headers.get('accept-language'))
        storage['lang'] = lang
    with suppress(RuntimeError):  # a handler whose element was just removed has no client to remember it for
        page = context.client.storage
        if page.get(PAGE_LANGUAGE) != lang:  # written once: each write of an observed dict calls its handlers
            page[PAGE_LANGUAGE] = lang
    return lang


def set_language(lang: str) -> None:
    """Remember this browser's language choice."""
    if lang not in LANGUAGES:
        raise ValueError(f'unsupported language {lang!r}')
    app.storage.user['lang'] = lang


def t(key: str, **fmt: object) -> str:
    """Return the UI string `key` in the current browser's language."""
    return translate(key, language(), **fmt)
