// Problem details in the reader's language. RFC 9457 §3.1.3 lets a problem's title be localized by
// content negotiation: with `Accept-Language: vi` (or ?lang=vi, as for step titles) a refusal answers
// Vietnamese — the title of its status, the meaning of its type (code) ahead of the occurrence's
// English particulars in `detail`, and the body-validation messages of `errors[]` — with
// `Content-Language: vi`. One catalogue beside the codes, for every client (the bench terminal, the
// CLI, an integration): a new refusal code gets its Vietnamese here (test/server/problem-language.test.ts
// fails on a code thrown in server/ without one). English stays the default and is unchanged.
import type { FastifyRequest } from 'fastify';
import { vi as zodVi } from 'zod/v4/locales';
import type { AppError, FieldProblem } from './errors.js';

export type ProblemLanguage = 'en' | 'vi';

export function problemLanguage(request: FastifyRequest): ProblemLanguage {
  const q = (request.query as { lang?: unknown } | undefined)?.lang;
  if (q === 'vi' || q === 'en') return q;
  return preferredLanguage(request.headers['accept-language']);
}

/**
 * The reader's language from Accept-Language (RFC 9110 §12.5.4, RFC 4647 §3.4 lookup): the ranges by
 * weight, highest first (equal weights in the order sent), the first that is Vietnamese or English
 * wins; `q=0` (or a weight that is not one) is "not this one", `*` and nothing known are English. Only the first range was looked
 * at: `fr, vi;q=0.8` and `en;q=0.1, vi` answered English to a reader who asked for Vietnamese.
 */
export function preferredLanguage(header: string | undefined): ProblemLanguage {
  if (!header) return 'en';
  const ranges = header.split(',').map((part, i) => {
    const [tag = '', ...params] = part.split(';');
    // A weight that does not parse leaves its range out (weight 0), as q=0 does.
    const q = params.find((p) => /^\s*q\s*=/i.test(p));
    const weight = q === undefined ? 1 : /^\s*q\s*=\s*(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)\s*$/i.test(q) ? Number(q.split('=')[1]) : 0;
    return { primary: tag.trim().toLowerCase().split('-')[0], weight, i };
  }).filter((r) => r.weight > 0).sort((a, b) => b.weight - a.weight || a.i - b.i);
  for (const r of ranges) if (r.primary === 'vi' || r.primary === 'en' || r.primary === '*') return r.primary === 'vi' ? 'vi' : 'en';
  return 'en';
}

export const TITLES_VI: Record<number, string> = {
  400: 'Dữ liệu không hợp lệ', 401: 'Chưa xác thực', 403: 'Không được phép', 404: 'Không tìm thấy', 405: 'Phương thức không được hỗ trợ',
  406: 'Không chấp nhận được', 408: 'Hết thời gian chờ yêu cầu', 409: 'Xung đột', 412: 'Điều kiện tiên quyết không thỏa', 413: 'Dữ liệu gửi quá lớn',
  415: 'Kiểu dữ liệu không được hỗ trợ', 422: 'Bị từ chối theo quy tắc nghiệp vụ', 423: 'Tài khoản bị khóa', 428: 'Cần điều kiện tiên quyết',
  429: 'Quá nhiều yêu cầu', 431: 'Tiêu đề yêu cầu quá lớn', 500: 'Lỗi máy chủ', 503: 'Dịch vụ tạm thời không khả dụng',
};

/** What each problem type (code) means, in Vietnamese. */
export const PROBLEM_TYPES_VI: Record<string, string> = {
  'invalid-input': 'Dữ liệu nhập không hợp lệ.',
  'malformed-request': 'Yêu cầu không đọc được.',
  'unauthorized': 'Tên đăng nhập hoặc mật khẩu không đúng, hoặc phiên làm việc đã kết thúc.',
  'account-locked': 'Tài khoản đã bị khóa sau nhiều lần nhập sai mật khẩu; quản trị viên cần mở khóa.',
  'too-many-attempts': 'Quá nhiều lần thử: hãy đợi rồi thử lại.',
  'unsupported-content-encoding': 'Dữ liệu gửi không được nén: hãy gửi dữ liệu không nén.',
  'unsupported-charset': 'Bảng mã của dữ liệu gửi không được hỗ trợ: hãy gửi JSON mã hóa UTF-8.',
  'server-busy': 'Máy chủ đang bận: hãy thử lại sau giây lát.',
  'password-change-required': 'Bạn cần đổi mật khẩu trước.',
  'csrf-token-missing': 'Thiếu mã bảo vệ phiên (CSRF): hãy tải lại trang.',
  'csrf-token-invalid': 'Mã bảo vệ phiên (CSRF) không hợp lệ: hãy tải lại trang.',
  'role-not-allowed': 'Vai trò của bạn không được phép làm việc này.',
  'admin-signs-nothing': 'Tài khoản quản trị không ký hồ sơ GMP.',
  'separation-of-duties': 'Cùng một người không được ký cả hai vai trò này (tách biệt trách nhiệm).',
  'self-role-change': 'Không ai được tự thay đổi vai trò của mình.',
  'self-deactivation': 'Không thể tự vô hiệu hóa tài khoản của mình.',
  'last-admin': 'Đây là quản trị viên cuối cùng còn hoạt động.',
  'username-taken': 'Tên đăng nhập này đã được dùng.',
  'asset-id-taken': 'Mã tài sản này đã được dùng.',
  'not-found': 'Không tìm thấy.',
  'method-not-allowed': 'Đường dẫn này không hỗ trợ phương thức đó.',
  'stale-version': 'Hồ sơ lô đã được người khác cập nhật sau khi bạn mở: hãy tải lại rồi làm lại.',
  'stale-content': 'Nội dung đã thay đổi từ khi bạn đọc: hãy tải lại.',
  'if-match-required': 'Cần cho biết nội dung đang được thay thế (If-Match).',
  'batch-closed': 'Lô đã kết thúc: không ghi thêm được.',
  'not-allowed-now': 'Việc này không được phép ở trạng thái hiện tại của lô.',
  'step-not-allowed': 'Bước này không ghi được lúc này.',
  'din-in-use': 'Mã DIN này đã được dùng cho một lô khác.',
  'identity-mismatch': 'Mã quét không khớp với lô này.',
  'material-or-equipment-refused': 'Lô vật tư hoặc thiết bị này không được phép dùng.',
  'already-verified': 'Bản ghi này đã được xác nhận.',
  'verification-not-required': 'Bước này không cần người thứ hai xác nhận.',
  'correct-the-original': 'Hãy sửa bản ghi gốc, không sửa một bản sửa.',
  'deviation-closed': 'Sai lệch đã đóng: không thay đổi được.',
  'deviations-open': 'Còn sai lệch chưa đóng.',
  'review-missing': 'Chưa có xem xét hồ sơ được ký.',
  'not-ready-for-review': 'Lô chưa sẵn sàng để xem xét.',
  'not-ready-for-disposition': 'Lô chưa sẵn sàng để quyết định xuất xưởng.',
  'not-releasable': 'Lô chưa xuất xưởng được.',
  'parent-batch-refused': 'Lô nguồn này không dùng được.',
  'donor-ineligible': 'Người hiến không đủ điều kiện.',
  'version-exists': 'Phiên bản này đã có.',
  'version-not-newer': 'Phiên bản phải mới hơn phiên bản hiện có.',
  'version-state': 'Phiên bản không ở trạng thái cho phép việc này.',
  'version-locked': 'Phiên bản đã khóa: chỉ bản nháp mới sửa được.',
  'version-not-effective': 'Phiên bản chưa có hiệu lực.',
  'version-not-runnable': 'Phiên bản này không dùng để chạy lô được.',
  'not-author': 'Chỉ người soạn bản nháp mới sửa được.',
  'clock-went-back': 'Đồng hồ máy chủ chạy lùi: không ghi được cho đến khi chỉnh lại.',
  'clock-backwards': 'Đồng hồ chạy lùi: không ghi được.',
  'performed-at-refused': 'Thời điểm thực hiện không được chấp nhận: trước khi lô được tạo hoặc trước bước mà bước này theo sau.',
  'late-entry-reason-required': 'Bản ghi muộn hơn mức cho phép sau khi thực hiện: cần nêu lý do ghi muộn.',
  'record-verifying': 'Hồ sơ đang được kiểm tra tính toàn vẹn: hãy ghi lại sau giây lát.',
  'record-tail-altered': 'Hồ sơ không khớp với điểm kiểm tra đã ký: không ghi thêm được cho đến khi QA điều tra.',
  'read-model-filling': 'Danh sách đang được dựng lại sau khi nâng cấp: hãy thử lại sau giây lát.',
  'request-timeout': 'Yêu cầu không đến kịp thời.',
  'header-fields-too-large': 'Tiêu đề yêu cầu quá lớn.',
  'internal-error': 'Máy chủ không hoàn tất được yêu cầu; sự cố đã được ghi lại.',
};

/**
 * The particulars of a refusal in Vietnamese, where the rule that refused worded them (AppError.vi):
 * the detail, and each of `errors[]` by its place (the field stays the same). A refusal without them
 * keeps its English particulars behind the Vietnamese meaning of its type.
 */
export function vietnameseParticulars(e: AppError): { detail: string; errors?: FieldProblem[] } | undefined {
  if (!e.vi) return undefined;
  const messages = e.vi.messages;
  return { detail: e.vi.detail, errors: e.errors?.map((x, i) => ({ field: x.field, message: messages?.[i] ?? x.message })) };
}

/** Batch statuses, as the Vietnamese particulars name them (the terminal's own words: web/src/i18n/vi.ts). */
export const STATUS_VI: Record<string, string> = {
  in_process: 'đang sản xuất', qc_testing: 'đang kiểm nghiệm QC', qa_review: 'đang chờ QA xem xét', released: 'đã xuất xưởng',
  rejected: 'đã bị loại bỏ', terminated: 'đã bị chấm dứt',
};
export const statusVi = (status: string) => STATUS_VI[status] ?? status;
export const SEVERITY_VI: Record<string, string> = { minor: 'nhẹ', major: 'nặng', critical: 'nghiêm trọng' };
export const DEVIATION_KIND_VI: Record<string, string> = { oos: 'ngoài tiêu chuẩn', timing: 'về thời gian', manual: 'báo cáo thủ công', 'post-release': 'sau xuất xưởng' };
export const DEVIATION_STATUS_VI: Record<string, string> = { open: 'đang mở', investigating: 'đang điều tra', closed: 'đã đóng' };
/** A deviation as a refusal names it: "sai lệch ngoài tiêu chuẩn (nặng, đang mở)". */
export const deviationVi = (d: { kind: string; severity: string; status: string }) =>
  `sai lệch ${DEVIATION_KIND_VI[d.kind] ?? d.kind} (${SEVERITY_VI[d.severity] ?? d.severity}, ${DEVIATION_STATUS_VI[d.status] ?? d.status})`;
export const VERSION_STATUS_VI: Record<string, string> = {
  draft: 'là bản nháp', in_review: 'đang được xem xét', approved: 'đã được phê duyệt', effective: 'đang có hiệu lực', superseded: 'đã bị thay thế', withdrawn: 'đã bị rút',
};
export const versionStatusVi = (status: string) => VERSION_STATUS_VI[status] ?? status;
export const LOT_STATUS_VI: Record<string, string> = { quarantined: 'đang biệt trữ', released: 'đã được phê duyệt', rejected: 'đã bị loại' };

/** The problem's title and detail in the language asked for (the detail keeps the English particulars). */
export function localizedProblem(lang: ProblemLanguage, status: number, code: string, title: string, detail: string) {
  if (lang === 'en') return { title, detail };
  const meaning = PROBLEM_TYPES_VI[code];
  return { title: TITLES_VI[status] ?? title, detail: meaning ? `${meaning} (${detail})` : detail };
}

const zodVietnamese = zodVi().localeError as (issue: object) => string | { message: string } | undefined;

/**
 * A body-validation message in Vietnamese, from zod's own Vietnamese catalogue. Issues a schema words
 * itself (`custom`: refinements) keep their English; zod drops the input from an issue, so the value
 * is read back from what was sent for the "received …" part.
 */
export function validationMessageVi(issue: { keyword: string; message: string; params?: object }, input: unknown): string {
  if (issue.keyword === 'custom') return issue.message;
  const text = zodVietnamese({ ...issue.params, code: issue.keyword, input, message: issue.message });
  return (typeof text === 'string' ? text : text?.message) ?? issue.message;
}
