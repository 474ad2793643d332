// Built-in CAR-T process: autologous, lentiviral, closed system (CliniMACS Prodigy-style), 9–10 days.
// Figures from /work/shared/domain/processes.md: Castella et al., Mol Ther Methods Clin Dev 2019;12:134
// (ARI-0001 release specification); Zhu et al., Cytotherapy 2018;20:394; Front Immunol 2024;15:1328368.
// A definition is data: a site changes a figure by issuing a new version, not by changing code.
import type { ProcessDefinitionInput } from '../definition.js';
import { operatorSigns, operatorSignsVerified, PERCENT, qcSigns, releaseMycoplasma, releaseViability, TEMPERATURE, viability } from './common.js';

const DAY_0 = { step: 'activation', field: 'startTime' };


export const carT: ProcessDefinitionInput = {
  id: 'car-t',
  // Version 2 (issue 11, finding 9): IL-7 + IL-15 or IL-2 at activation, the adventitious-virus PCR
  // among the release tests, and the bag fractions checked to add up to the whole dose. Batches
  // started on version 1 keep it (their definition is pinned by content hash in the database).
  version: 2,
  name: 'Autologous CAR-T cells (lentiviral, closed system)',
  title: { en: 'CAR-T cell manufacturing (autologous, lentiviral)', vi: 'Sản xuất tế bào CAR-T (tự thân, vectơ lentivirus)' },
  productType: 'CAR-T',
  description: {
    en: 'Autologous CAR-T cells from an apheresis product: CD4/CD8 selection, TransAct activation, lentiviral transduction and 9–10 days of expansion in a closed system (CliniMACS Prodigy), cryopreserved in 1–3 bags.',
    vi: 'Tế bào CAR-T tự thân từ sản phẩm gạn tách: chọn lọc CD4/CD8, hoạt hóa bằng TransAct, tải nạp gen bằng vectơ lentivirus và nuôi cấy tăng sinh 9–10 ngày trong hệ thống kín (CliniMACS Prodigy), bảo quản đông lạnh trong 1–3 túi.',
  },
  autologous: true,
  phases: [
    {
      id: 'receipt',
      title: { en: 'Receipt', vi: 'Tiếp nhận' },
      steps: [
        {
          id: 'apheresis-receipt',
          title: { en: 'Apheresis receipt', vi: 'Tiếp nhận sản phẩm gạn tách' },
          instructions: {
            en: 'Scan the DIN on the apheresis bag, check that the bag is intact and correctly labelled, and record the collection end, the receipt time, the transport temperature and the volume.',
            vi: 'Quét mã DIN trên túi sản phẩm gạn tách, kiểm tra túi còn nguyên vẹn và dán nhãn đúng, ghi lại thời điểm kết thúc thu gom, thời điểm tiếp nhận, nhiệt độ vận chuyển và thể tích.',
          },
          after: [],
          // Received no later than 48 h after the end of collection, judged from the step's own values.
          window: { from: { field: 'collectionEnd' }, at: { field: 'receivedAt' }, closesAfterHours: 48 },
          fields: [
            { name: 'bagScan', label: { en: 'Apheresis bag DIN (scan)', vi: 'Mã DIN túi gạn tách (quét mã)' }, kind: 'identity', identity: 'din' },
            { name: 'collectionEnd', label: { en: 'End of collection', vi: 'Thời điểm kết thúc thu gom' }, kind: 'datetime' },
            { name: 'receivedAt', label: { en: 'Received at', vi: 'Thời điểm tiếp nhận' }, kind: 'datetime' },
            { name: 'transportTemperature', label: { en: 'Transport temperature', vi: 'Nhiệt độ vận chuyển' }, kind: 'number', ...TEMPERATURE, spec: { min: 2, max: 25 } },
            { name: 'volume', label: { en: 'Volume', vi: 'Thể tích' }, kind: 'number', unit: 'mL', decimals: 1, limits: { min: 0 } },
          ],
          signatures: operatorSigns,
        },
        {
          id: 'starting-material-sample',
          title: { en: 'Starting material sample', vi: 'Lấy mẫu nguyên liệu ban đầu' },
          instructions: {
            en: 'Take a sample of the apheresis product and record the white blood cell concentration, the viability and the CD3+ fraction.',
            vi: 'Lấy mẫu sản phẩm gạn tách và ghi lại nồng độ bạch cầu, khả năng sống và tỷ lệ tế bào CD3+.',
          },
          after: ['apheresis-receipt'],
          fields: [
            { name: 'wbcConcentration', label: { en: 'White blood cell concentration', vi: 'Nồng độ bạch cầu' }, kind: 'number', unit: '10^6/mL', decimals: 2, limits: { min: 0 } },
            { ...viability, spec: { min: 70 } },
            { name: 'cd3Positive', label: { en: 'CD3+ cells', vi: 'Tế bào CD3+' }, kind: 'number', ...PERCENT },
          ],
          signatures: operatorSignsVerified,
        },
      ],
    },
    {
      id: 'selection-activation',
      title: { en: 'Selection and activation', vi: 'Chọn lọc và hoạt hóa' },
      steps: [
        {
          id: 'cd4-cd8-selection',
          title: { en: 'CD4/CD8 selection', vi: 'Chọn lọc tế bào CD4/CD8' },
          instructions: {
            en: 'Run the CD4/CD8 immunomagnetic selection on the cell processor with the registered bead and buffer lots, then count the selected cells.',
            vi: 'Chạy chương trình chọn lọc từ miễn dịch CD4/CD8 trên máy xử lý tế bào với các lô hạt từ và dung dịch đệm đã đăng ký, sau đó đếm tế bào sau chọn lọc.',
          },
          after: ['starting-material-sample'],
          fields: [
            { name: 'cellProcessor', label: { en: 'Cell processor (CliniMACS Prodigy)', vi: 'Máy xử lý tế bào (CliniMACS Prodigy)' }, kind: 'equipment', equipmentType: 'cell-processor' },
            { name: 'cd4BeadsLot', label: { en: 'CD4 microbeads lot', vi: 'Lô hạt từ CD4' }, kind: 'lot', materialType: 'cd4-microbeads' },
            { name: 'cd8BeadsLot', label: { en: 'CD8 microbeads lot', vi: 'Lô hạt từ CD8' }, kind: 'lot', materialType: 'cd8-microbeads' },
            { name: 'bufferLot', label: { en: 'Buffer lot', vi: 'Lô dung dịch đệm' }, kind: 'lot', materialType: 'buffer' },
            { name: 'viableCellsSelected', label: { en: 'Viable cells after selection', vi: 'Số tế bào sống sau chọn lọc' }, kind: 'number', unit: '10^6', decimals: 1, limits: { min: 0 }, spec: { min: 100 } },
            { ...viability, spec: { min: 70 } },
            { name: 'cd3Purity', label: { en: 'CD3+ purity', vi: 'Độ tinh khiết CD3+' }, kind: 'number', ...PERCENT },
          ],
          signatures: operatorSignsVerified,
        },
        {
          id: 'activation',
          title: { en: 'T-cell activation (day 0)', vi: 'Hoạt hóa tế bào T (ngày 0)' },
          instructions: {
            en: 'Seed the selected cells in TexMACS medium with IL-7 and IL-15 (or with IL-2), add TransAct and record the start time: it is day 0 of the process. Record the lots of the cytokines used.',
            vi: 'Cấy tế bào đã chọn lọc vào môi trường TexMACS có IL-7 và IL-15 (hoặc có IL-2), bổ sung TransAct và ghi lại thời điểm bắt đầu: đây là ngày 0 của quy trình. Ghi lại số lô của các cytokine đã dùng.',
          },
          after: ['cd4-cd8-selection'],
          // Selection and activation are done the same day.
          window: { from: { step: 'cd4-cd8-selection' }, at: { field: 'startTime' }, closesAfterHours: 24 },
          fields: [
            { name: 'transactLot', label: { en: 'TransAct lot', vi: 'Lô TransAct' }, kind: 'lot', materialType: 'transact' },
            { name: 'mediumLot', label: { en: 'Medium lot (TexMACS)', vi: 'Lô môi trường (TexMACS)' }, kind: 'lot', materialType: 'medium' },
            // processes.md: IL-7 and IL-15, or IL-2 — the groups below refuse (400) a step with neither.
            { name: 'il7Lot', label: { en: 'IL-7 lot', vi: 'Lô IL-7' }, kind: 'lot', materialType: 'il-7', required: false },
            { name: 'il15Lot', label: { en: 'IL-15 lot', vi: 'Lô IL-15' }, kind: 'lot', materialType: 'il-15', required: false },
            { name: 'il2Lot', label: { en: 'IL-2 lot', vi: 'Lô IL-2' }, kind: 'lot', materialType: 'il-2', required: false },
            { name: 'viableCellsSeeded', label: { en: 'Viable cells seeded', vi: 'Số tế bào sống được cấy' }, kind: 'number', unit: '10^6', decimals: 1, limits: { min: 0 }, spec: { min: 50, max: 100 } },
            { name: 'startTime', label: { en: 'Activation start (day 0)', vi: 'Thời điểm bắt đầu hoạt hóa (ngày 0)' }, kind: 'datetime' },
          ],
          atLeastOneOf: [['il7Lot', 'il2Lot'], ['il15Lot', 'il2Lot']],
          signatures: operatorSignsVerified,
        },
      ],
    },
    {
      id: 'transduction',
      title: { en: 'Transduction', vi: 'Tải nạp gen' },
      steps: [
        {
          id: 'transduction',
          title: { en: 'Lentiviral transduction', vi: 'Tải nạp vectơ lentivirus' },
          instructions: {
            en: 'Thaw the lentiviral vector, add the volume for the target MOI to the culture, and record the lot, the MOI and the volume added.',
            vi: 'Rã đông vectơ lentivirus, bổ sung vào dịch nuôi cấy thể tích tương ứng với MOI mục tiêu, ghi lại số lô, MOI và thể tích đã bổ sung.',
          },
          after: ['activation'],
          window: { from: DAY_0, opensAfterHours: 18, closesAfterHours: 30 },
          fields: [
            { name: 'vectorLot', label: { en: 'Lentiviral vector lot', vi: 'Lô vectơ lentivirus' }, kind: 'lot', materialType: 'lentiviral-vector' },
            { name: 'moi', label: { en: 'Multiplicity of infection (MOI)', vi: 'Chỉ số nhiễm (MOI)' }, kind: 'number', decimals: 1, limits: { min: 0 }, spec: { min: 2, max: 10 } },
            { name: 'vectorVolume', label: { en: 'Vector volume added', vi: 'Thể tích vectơ đã bổ sung' }, kind: 'number', unit: 'mL', decimals: 2, limits: { min: 0 } },
          ],
          signatures: operatorSignsVerified,
        },
      ],
    },
    {
      id: 'expansion',
      title: { en: 'Expansion', vi: 'Nuôi cấy tăng sinh' },
      steps: [
        {
          id: 'culture-check',
          title: { en: 'Culture check', vi: 'Kiểm tra nuôi cấy' },
          instructions: {
            en: 'Sample the culture, measure the viable cell density and viability, record the culture volume, and record any medium added with its lot.',
            vi: 'Lấy mẫu dịch nuôi cấy, đo mật độ tế bào sống và khả năng sống, ghi lại thể tích dịch nuôi cấy và thể tích môi trường bổ sung (nếu có) cùng số lô.',
          },
          after: ['transduction'],
          repeatable: true,
          occurrences: { days: [3, 5, 7], from: DAY_0 },
          fields: [
            { name: 'cultureDay', label: { en: 'Culture day', vi: 'Ngày nuôi cấy' }, kind: 'integer', unit: 'day', computed: { daysSince: DAY_0 } },
            { name: 'viableCellDensity', label: { en: 'Viable cell density', vi: 'Mật độ tế bào sống' }, kind: 'number', unit: '10^6/mL', decimals: 2, limits: { min: 0 } },
            // Alert only (processes.md "≥ 70 alert"): flagged on the entry, no deviation.
            { ...viability, alert: { min: 70 } },
            { name: 'cultureVolume', label: { en: 'Culture volume', vi: 'Thể tích dịch nuôi cấy' }, kind: 'number', unit: 'mL', decimals: 1, limits: { min: 0 } },
            {
              name: 'totalViableCells',
              label: { en: 'Total viable cells', vi: 'Tổng số tế bào sống' },
              kind: 'number',
              unit: '10^6',
              decimals: 1,
              computed: { mul: [{ field: 'viableCellDensity' }, { field: 'cultureVolume' }] },
            },
            { name: 'mediumAdded', label: { en: 'Medium added', vi: 'Thể tích môi trường bổ sung' }, kind: 'number', unit: 'mL', decimals: 1, limits: { min: 0 }, required: false },
            { name: 'mediumLot', label: { en: 'Medium lot', vi: 'Lô môi trường' }, kind: 'lot', materialType: 'medium', required: false },
          ],
          signatures: operatorSigns,
        },
        {
          id: 'in-process-control',
          title: { en: 'In-process control, day 5', vi: 'Kiểm soát trong quá trình, ngày 5' },
          instructions: {
            en: 'Test the day-5 culture sample by flow cytometry and record the CAR-positive fraction of viable CD3+ cells.',
            vi: 'Phân tích mẫu dịch nuôi cấy ngày 5 bằng phương pháp đếm tế bào dòng chảy và ghi lại tỷ lệ tế bào CAR+ trong số tế bào CD3+ sống.',
          },
          after: ['transduction'],
          window: { from: DAY_0, opensAfterHours: 96, closesAfterHours: 144 },
          fields: [
            { name: 'carPositive', label: { en: 'CAR+ of viable CD3+ cells', vi: 'Tỷ lệ CAR+ trong tế bào CD3+ sống' }, kind: 'number', ...PERCENT, spec: { min: 5 } },
          ],
          signatures: qcSigns,
        },
      ],
    },
    {
      id: 'harvest-formulation',
      title: { en: 'Harvest and formulation', vi: 'Thu hoạch và pha chế thành phẩm' },
      steps: [
        {
          id: 'harvest',
          title: { en: 'Harvest', vi: 'Thu hoạch tế bào' },
          instructions: {
            en: 'Wash and concentrate the culture on the cell processor, count the harvested cells and send samples for flow cytometry and release testing.',
            vi: 'Rửa và cô đặc dịch nuôi cấy trên máy xử lý tế bào, đếm tế bào thu hoạch và gửi mẫu đi phân tích tế bào dòng chảy và kiểm nghiệm xuất xưởng.',
          },
          after: ['culture-check', 'in-process-control'],
          window: { from: DAY_0, opensAfterHours: 216, closesAfterHours: 264 },
          fields: [
            { name: 'totalViableCells', label: { en: 'Total viable cells', vi: 'Tổng số tế bào sống' }, kind: 'number', unit: '10^6', decimals: 1, limits: { min: 0 } },
            { ...viability, spec: { min: 70 } },
            { name: 'carPositive', label: { en: 'CAR+ cells', vi: 'Tế bào CAR+' }, kind: 'number', ...PERCENT, spec: { min: 20 } },
            { name: 'cd3Positive', label: { en: 'CD3+ cells', vi: 'Tế bào CD3+' }, kind: 'number', ...PERCENT, spec: { min: 70 } },
            {
              name: 'foldExpansion',
              label: { en: 'Fold expansion', vi: 'Hệ số tăng sinh' },
              kind: 'number',
              decimals: 1,
              computed: { div: [{ field: 'totalViableCells' }, { step: 'activation', field: 'viableCellsSeeded' }] },
            },
          ],
          signatures: operatorSignsVerified,
        },
        {
          id: 'formulation',
          title: { en: 'Formulation', vi: 'Pha chế thành phẩm' },
          instructions: {
            en: "Calculate the dose from the patient's weight, resuspend the cells in cryomedium and decide how many bags to fill (1–3).",
            vi: 'Tính liều theo cân nặng của bệnh nhân, tái huyền phù tế bào trong môi trường bảo quản đông lạnh và xác định số túi cần chiết rót (1–3).',
          },
          after: ['harvest'],
          window: { from: { step: 'harvest' }, closesAfterHours: 4 },
          fields: [
            { name: 'patientWeight', label: { en: 'Patient weight', vi: 'Cân nặng bệnh nhân' }, kind: 'number', unit: 'kg', decimals: 1, computed: { patient: 'weightKg' } },
            {
              name: 'targetDose',
              label: { en: 'Target dose (CAR+ viable T cells per kg)', vi: 'Liều mục tiêu (tế bào T CAR+ sống/kg)' },
              kind: 'number',
              unit: '10^6/kg',
              decimals: 2,
              limits: { min: 0 },
              spec: { min: 0.4, max: 5.0 },
            },
            {
              name: 'totalDoseCells',
              label: { en: 'Total dose (CAR+ viable T cells)', vi: 'Tổng liều (tế bào T CAR+ sống)' },
              kind: 'number',
              unit: '10^6',
              decimals: 1,
              computed: { mul: [{ field: 'targetDose' }, { patient: 'weightKg' }] },
            },
            // The spec equals the limits, so it can never fail: it only tells clients the range (API fields carry no limits).
            { name: 'bagCount', label: { en: 'Number of bags', vi: 'Số túi' }, kind: 'integer', limits: { min: 1, max: 3 }, spec: { min: 1, max: 3 } },
            { name: 'cryomediumLot', label: { en: 'Cryomedium lot', vi: 'Lô môi trường bảo quản đông lạnh' }, kind: 'lot', materialType: 'cryomedium' },
          ],
          signatures: operatorSignsVerified,
        },
        {
          id: 'fill-bag',
          title: { en: 'Bag fill and labelling', vi: 'Chiết rót và dán nhãn túi' },
          instructions: {
            en: 'Fill the bag with its fraction of the dose, apply the product label and scan it; repeat for every bag.',
            vi: 'Chiết rót phần liều tương ứng vào túi, dán nhãn sản phẩm và quét mã nhãn; lặp lại cho từng túi.',
          },
          after: ['formulation'],
          repeatable: true,
          occurrences: { countFrom: { step: 'formulation', field: 'bagCount' } },
          fields: [
            { name: 'bagNumber', label: { en: 'Bag number', vi: 'Số thứ tự túi' }, kind: 'integer', limits: { min: 1 } },
            { name: 'fractionPercent', label: { en: 'Fraction of the dose', vi: 'Tỷ lệ phần liều' }, kind: 'number', ...PERCENT },
            { name: 'volume', label: { en: 'Volume', vi: 'Thể tích' }, kind: 'number', unit: 'mL', decimals: 1, limits: { min: 0 } },
            { name: 'labelScan', label: { en: 'Bag label (scan)', vi: 'Nhãn túi (quét mã)' }, kind: 'identity', identity: 'batchNumber' },
          ],
          signatures: operatorSignsVerified,
        },
      ],
    },
    {
      id: 'cryopreservation',
      title: { en: 'Cryopreservation', vi: 'Bảo quản đông lạnh' },
      steps: [
        {
          id: 'cryopreservation',
          title: { en: 'Cryopreservation', vi: 'Đông lạnh và lưu trữ' },
          instructions: {
            en: 'Freeze the bags in the controlled-rate freezer with the validated program, transfer them to vapour-phase liquid nitrogen and record the storage location.',
            vi: 'Đông lạnh các túi trong máy đông lạnh kiểm soát tốc độ bằng chương trình đã được thẩm định, chuyển vào bình nitơ lỏng pha hơi và ghi lại vị trí lưu trữ.',
          },
          after: ['fill-bag'],
          // Freezing starts no later than 2 h after the last bag is filled.
          window: { from: { step: 'fill-bag' }, at: { field: 'freezingStart' }, closesAfterHours: 2 },
          fields: [
            { name: 'freezer', label: { en: 'Controlled-rate freezer', vi: 'Máy đông lạnh kiểm soát tốc độ' }, kind: 'equipment', equipmentType: 'controlled-rate-freezer' },
            { name: 'freezingProgram', label: { en: 'Freezing program', vi: 'Chương trình đông lạnh' }, kind: 'text' },
            { name: 'freezingStart', label: { en: 'Freezing start', vi: 'Thời điểm bắt đầu đông lạnh' }, kind: 'datetime' },
            { name: 'freezingEnd', label: { en: 'Freezing end', vi: 'Thời điểm kết thúc đông lạnh' }, kind: 'datetime' },
            { name: 'storageTank', label: { en: 'Storage tank', vi: 'Bình lưu trữ' }, kind: 'text' },
            { name: 'storageRack', label: { en: 'Rack', vi: 'Giá' }, kind: 'text' },
            { name: 'storageBox', label: { en: 'Box', vi: 'Hộp' }, kind: 'text' },
            { name: 'storagePosition', label: { en: 'Position', vi: 'Vị trí' }, kind: 'text' },
            { name: 'storageTemperature', label: { en: 'Storage temperature', vi: 'Nhiệt độ lưu trữ' }, kind: 'number', ...TEMPERATURE, spec: { max: -150 } },
            // The fractions of every bag filled add up to the whole dose; otherwise an OOS deviation.
            {
              name: 'fractionTotal', label: { en: 'Fractions of all bags', vi: 'Tổng tỷ lệ phần liều các túi' }, kind: 'number', unit: '%', decimals: 1,
              computed: { sumOf: { step: 'fill-bag', field: 'fractionPercent' } }, spec: { min: 99.5, max: 100.5 },
            },
          ],
          signatures: operatorSignsVerified,
        },
      ],
    },
    {
      id: 'release-testing',
      title: { en: 'Release testing', vi: 'Kiểm nghiệm xuất xưởng' },
      // One step per test: they open when the batch enters QC testing and run in parallel.
      steps: [
        {
          id: 'release-appearance',
          title: { en: 'Appearance', vi: 'Cảm quan' },
          instructions: {
            en: 'Inspect the product bags: a cell suspension, free of visible particles and clots, bags intact.',
            vi: 'Kiểm tra túi sản phẩm: hỗn dịch tế bào, không có tiểu phân hoặc cục đông nhìn thấy được, túi còn nguyên vẹn.',
          },
          stage: 'release',
          after: [],
          fields: [
            { name: 'appearance', label: { en: 'Appearance', vi: 'Cảm quan' }, kind: 'result', options: ['conforms', 'does not conform'], spec: { oneOf: ['conforms'] } },
          ],
          signatures: qcSigns,
        },
        releaseViability,
        {
          id: 'release-car-positive',
          title: { en: 'CAR expression', vi: 'Biểu hiện CAR' },
          instructions: {
            en: 'Measure by flow cytometry the CAR-positive fraction of viable CD3+ cells in the final product.',
            vi: 'Đo bằng phương pháp đếm tế bào dòng chảy tỷ lệ tế bào CAR+ trong số tế bào CD3+ sống của thành phẩm.',
          },
          stage: 'release',
          after: [],
          fields: [
            { name: 'carPositive', label: { en: 'CAR+ of viable CD3+ cells', vi: 'Tỷ lệ CAR+ trong tế bào CD3+ sống' }, kind: 'result', ...PERCENT, spec: { min: 20 } },
          ],
          signatures: qcSigns,
        },
        {
          id: 'release-cd3-positive',
          title: { en: 'T-cell identity (CD3+)', vi: 'Định danh tế bào T (CD3+)' },
          stage: 'release',
          after: [],
          fields: [{ name: 'cd3Positive', label: { en: 'CD3+ cells', vi: 'Tế bào CD3+' }, kind: 'result', ...PERCENT, spec: { min: 70 } }],
          signatures: qcSigns,
        },
        {
          id: 'release-dose',
          title: { en: 'Dose', vi: 'Liều' },
          instructions: {
            en: "Record the total CAR+ viable T cells in the product; the dose per kg is computed from the patient's weight.",
            vi: 'Ghi lại tổng số tế bào T CAR+ sống trong thành phẩm; liều theo kg được tính từ cân nặng của bệnh nhân.',
          },
          stage: 'release',
          after: [],
          fields: [
            { name: 'totalCarPositiveCells', label: { en: 'Total CAR+ viable T cells', vi: 'Tổng số tế bào T CAR+ sống' }, kind: 'number', unit: '10^6', decimals: 1, limits: { min: 0 } },
            {
              name: 'dosePerKg',
              label: { en: 'Dose per kg of body weight', vi: 'Liều theo kg cân nặng' },
              kind: 'number',
              unit: '10^6/kg',
              decimals: 2,
              computed: { div: [{ field: 'totalCarPositiveCells' }, { patient: 'weightKg' }] },
              spec: { min: 0.5 },
            },
          ],
          signatures: qcSigns,
        },
        {
          id: 'release-sterility',
          title: { en: 'Sterility (14-day culture)', vi: 'Vô trùng (nuôi cấy 14 ngày)' },
          instructions: {
            en: 'Record the result of the 14-day sterility culture. It may arrive after release: a growth then opens a deviation and flags the released product.',
            vi: 'Ghi lại kết quả nuôi cấy vô trùng 14 ngày. Kết quả có thể có sau khi xuất xưởng: nếu có vi sinh vật mọc, một sai lệch được mở và sản phẩm đã xuất xưởng bị gắn cờ.',
          },
          stage: 'release',
          after: [],
          mayFollowRelease: true,
          fields: [
            { name: 'sterility', label: { en: 'Sterility', vi: 'Vô trùng' }, kind: 'result', options: ['no growth', 'growth'], spec: { oneOf: ['no growth'] } },
          ],
          signatures: qcSigns,
        },
        releaseMycoplasma,
        {
          id: 'release-adventitious-virus',
          title: { en: 'Adventitious viruses (PCR)', vi: 'Virus ngoại lai (PCR)' },
          instructions: {
            en: 'Test the final product by PCR for adventitious viruses (the panel of the validated method) and record whether any was detected.',
            vi: 'Xét nghiệm sản phẩm cuối bằng PCR tìm virus ngoại lai (bảng xét nghiệm của phương pháp đã thẩm định) và ghi lại có phát hiện hay không.',
          },
          stage: 'release',
          after: [],
          fields: [
            { name: 'adventitiousViruses', label: { en: 'Adventitious viruses (PCR)', vi: 'Virus ngoại lai (PCR)' }, kind: 'result', options: ['not detected', 'detected'], spec: { oneOf: ['not detected'] } },
          ],
          signatures: qcSigns,
        },
        {
          id: 'release-endotoxin',
          title: { en: 'Endotoxin', vi: 'Nội độc tố' },
          stage: 'release',
          after: [],
          fields: [
            { name: 'endotoxin', label: { en: 'Endotoxin', vi: 'Nội độc tố' }, kind: 'result', unit: 'EU/mL', decimals: 2, limits: { min: 0 }, spec: { max: 0.5 } },
          ],
          signatures: qcSigns,
        },
        {
          id: 'release-vcn',
          title: { en: 'Vector copy number', vi: 'Số bản sao vectơ' },
          stage: 'release',
          after: [],
          fields: [
            { name: 'vectorCopyNumber', label: { en: 'Vector copy number', vi: 'Số bản sao vectơ' }, kind: 'result', unit: 'copies/cell', decimals: 2, limits: { min: 0 }, spec: { max: 10 } },
          ],
          signatures: qcSigns,
        },
        {
          id: 'release-rcl',
          title: { en: 'Replication-competent lentivirus', vi: 'Lentivirus có khả năng nhân lên (RCL)' },
          stage: 'release',
          after: [],
          fields: [
            { name: 'rcl', label: { en: 'Replication-competent lentivirus', vi: 'Lentivirus có khả năng nhân lên' }, kind: 'result', options: ['absent', 'detected'], spec: { oneOf: ['absent'] } },
          ],
          signatures: qcSigns,
        },
        {
          id: 'release-potency',
          title: { en: 'Potency (cytotoxicity)', vi: 'Hiệu lực (khả năng gây độc tế bào)' },
          instructions: {
            en: 'Run the co-culture cytotoxicity assay and record both read-outs; the product passes if either criterion is met.',
            vi: 'Thực hiện thử nghiệm độc tế bào bằng đồng nuôi cấy và ghi lại cả hai kết quả; sản phẩm đạt nếu thỏa mãn một trong hai tiêu chí.',
          },
          stage: 'release',
          after: [],
          fields: [
            {
              name: 'targetSurvival',
              label: { en: 'Target-cell survival at E:T 1:1', vi: 'Tỷ lệ sống của tế bào đích ở E:T 1:1' },
              kind: 'number',
              ...PERCENT,
            },
            {
              name: 'killingDifference',
              label: { en: 'Killing difference, CAR vs untransduced, at E:T 4:1', vi: 'Chênh lệch khả năng tiêu diệt giữa tế bào CAR và tế bào không tải nạp ở E:T 4:1' },
              kind: 'number',
              unit: '%',
              decimals: 1,
              // A difference: CAR cells may kill less than untransduced ones.
              limits: { min: -100, max: 100 },
            },
          ],
          criteria: [
            {
              id: 'potency',
              label: {
                en: 'Potency: target-cell survival < 70 % or killing difference > 50 %',
                vi: 'Hiệu lực: tỷ lệ sống của tế bào đích < 70 % hoặc chênh lệch khả năng tiêu diệt > 50 %',
              },
              anyOf: [
                { field: 'targetSurvival', spec: { maxExclusive: 70 } },
                { field: 'killingDifference', spec: { minExclusive: 50 } },
              ],
            },
          ],
          signatures: qcSigns,
        },
      ],
    },
  ],
};
